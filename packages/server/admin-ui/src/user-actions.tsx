/** @jsxImportSource preact */
import { useState } from 'preact/hooks';
import { api } from './api.ts';
import { usePoll } from './hooks.ts';

type Action = 'disconnect' | 'block' | 'unblock' | 'revoke';

const DURATIONS: Array<[string, number | undefined]> = [['1 hour', 3600], ['1 day', 86_400], ['1 week', 604_800], ['until unblocked', undefined]];

const QUESTIONS: Record<Action, (user: string) => string> = {
  disconnect: (u) => `Close every connection of ${u} on every node?`,
  block: (u) => `Block ${u}? Their connections close (3502 blocked) and new ones are refused.`,
  unblock: (u) => `Unblock ${u}?`,
  revoke: (u) => `Refuse every token issued to ${u} until now? Connections that used one close (3502 token_revoked).`,
};

const when = (sec: number) => new Date(sec * 1000).toLocaleString('en-GB');

/**
 * What an operator can do to a user: disconnect, block (for a while or until unblocked, with
 * a reason kept for operators), unblock, revoke the tokens issued so far. Each asks first; the
 * user's current access state is shown above the buttons.
 */
export function UserActions({ user, connections, onDone }: { user: string; connections: number; onDone(): void }) {
  const access = usePoll(() => api.access(user), 5000, [user]);
  const [pending, setPending] = useState<Action | undefined>(undefined);
  const [duration, setDuration] = useState('0');
  const [reason, setReason] = useState('');
  const [status, setStatus] = useState<{ ok: boolean; text: string } | undefined>(undefined);

  const run = async (action: Action) => {
    setPending(undefined);
    try {
      if (action === 'disconnect') {
        await api.disconnect(user);
        setStatus({ ok: true, text: `Disconnected ${user} (close code 3503 forced: clients do not reconnect on their own).` });
      } else if (action === 'block') {
        const ttl = DURATIONS[Number(duration)]![1];
        await api.block(user, ttl, reason.trim() || undefined);
        setStatus({ ok: true, text: `Blocked ${user}.` });
      } else if (action === 'unblock') {
        await api.unblock(user);
        setStatus({ ok: true, text: `Unblocked ${user}.` });
      } else {
        await api.revoke(user);
        setStatus({ ok: true, text: `Revoked the tokens of ${user} issued until now.` });
      }
      access.reload();
      onDone();
    } catch (err) {
      setStatus({ ok: false, text: (err as Error).message });
    }
  };

  const a = access.value;
  return (
    <div class="actions" aria-label={`Actions on ${user}`} role="group">
      <p>{user}: {connections} live connection{connections === 1 ? '' : 's'}</p>
      <p id="user-access">
        {!a ? (access.error ?? 'Access: …')
          : a.blocked ? `Blocked ${a.until !== undefined ? `until ${when(a.until)}` : 'until unblocked'}${a.reason ? ` (${a.reason})` : ''}.`
          : 'Not blocked.'}
        {a?.revokedBefore !== undefined ? ` Tokens issued before ${when(a.revokedBefore)} are refused.` : ''}
      </p>
      {pending ? (
        <div class="confirm">
          <p>{QUESTIONS[pending](user)}</p>
          {pending === 'block' && (
            <p class="block-options">
              <label for="block-for">For</label>
              <select id="block-for" value={duration} onChange={(e) => setDuration((e.target as HTMLSelectElement).value)}>
                {DURATIONS.map(([label], i) => <option value={String(i)} key={label}>{label}</option>)}
              </select>
              <label for="block-reason">Reason (for operators)</label>
              <input id="block-reason" value={reason} maxLength={200} onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
            </p>
          )}
          <button type="button" class="danger" onClick={() => run(pending)}>Yes, {pending === 'revoke' ? 'revoke' : pending}</button>{' '}
          <button type="button" class="secondary" onClick={() => setPending(undefined)}>Cancel</button>
        </div>
      ) : (
        <p class="buttons">
          <button type="button" class="danger" onClick={() => setPending('disconnect')}>Disconnect {user}</button>{' '}
          {a?.blocked
            ? <button type="button" class="secondary" onClick={() => setPending('unblock')}>Unblock {user}</button>
            : <button type="button" class="danger" onClick={() => setPending('block')}>Block {user}</button>}{' '}
          <button type="button" class="secondary" onClick={() => setPending('revoke')}>Revoke tokens of {user}</button>
        </p>
      )}
      <p role="status" class={status ? (status.ok ? 'ok' : 'error') : ''}>{status?.text ?? ''}</p>
    </div>
  );
}
