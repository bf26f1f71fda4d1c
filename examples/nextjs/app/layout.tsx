import type { ReactNode } from 'react';

export const metadata = { title: 'Switchboard in Next.js' };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body style={{ fontFamily: 'system-ui, sans-serif', maxWidth: '40rem', margin: '2rem auto' }}>{children}</body>
    </html>
  );
}
