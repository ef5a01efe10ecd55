import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/**
 * This process's established TCP sockets to `port` (any local address), from the kernel's own
 * tables: /proc/net/tcp{,6} gives each socket's remote port and inode, /proc/self/fd which
 * inodes are ours. Linux only; elsewhere undefined.
 */
export function socketsTo(port: number): number | undefined {
  if (process.platform !== 'linux') return undefined;
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const columns = line.trim().split(/\s+/);
      // rem_address is `HEXIP:HEXPORT`; state 01 is ESTABLISHED; column 9 the inode.
      if (columns.length < 10 || columns[3] !== '01') continue;
      if (parseInt(columns[2]!.split(':')[1]!, 16) === port) inodes.add(columns[9]!);
    }
  }
  let count = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (match && inodes.has(match[1]!)) count++;
    } catch {
      // Closed while we listed the folder.
    }
  }
  return count;
}
