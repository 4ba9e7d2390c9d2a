// Which listen addresses only this host can reach (the admin listener may skip its token there).
import { isIP } from 'node:net';

/** 127.0.0.0/8, ::1 (also IPv4-mapped 127.x), or the name localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}
