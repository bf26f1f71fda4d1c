// The React example: one room over @switchboard/react — who is here, the messages, a composer.
import { useState, type FormEvent } from 'react';
import { useConnectionState, usePresence, usePublish, useSubscription } from '@switchboard/react';

/** What this app publishes in a room (the type is the app's word: the SDK does not check it). */
interface ChatMessage {
  text: string;
}

/** One room: its last messages (20 from history on mount, then live, recovered after reconnects), who is in it, and a composer. */
export function Room({ channel, me }: { channel: string; me: string }) {
  const { messages, state } = useSubscription<ChatMessage>(channel, { rewind: 20 });
  const people = usePresence(channel);
  const publish = usePublish();
  const connection = useConnectionState();
  const [text, setText] = useState('');

  const send = (e: FormEvent) => {
    e.preventDefault();
    if (!text.trim()) return;
    void publish(channel, { text: text.trim() });
    setText('');
  };

  return (
    <main>
      <header>
        <h1>{channel}</h1>
        <p id="connection" data-state={connection}>{connection === 'connected' ? `Connected as ${me}` : connection}</p>
        <p id="subscription">{state}</p>
      </header>
      <aside>
        <h2>Here now</h2>
        <ul id="people">
          {people.map((p) => <li key={p.user}>{p.user}</li>)}
        </ul>
      </aside>
      <ol id="messages">
        {messages.map((m) => (
          <li key={`${m.epoch ?? ''}:${m.offset ?? m.id}`}>
            <b>{m.from ?? 'server'}</b> {typeof m.data?.text === 'string' ? m.data.text : JSON.stringify(m.data)}
          </li>
        ))}
      </ol>
      <form onSubmit={send}>
        <input aria-label="Message" value={text} onChange={(e) => setText(e.target.value)} placeholder="Say something" />
        <button type="submit">Send</button>
      </form>
    </main>
  );
}
