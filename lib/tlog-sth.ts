// What a signed tree head signs. Shared by the log and by those who check it.
export const sthMessage = (size: number, root: Buffer, timestamp: number): Buffer =>
  Buffer.from(`edgeseal-tlog-sth-v1\n${size}\n${root.toString('hex')}\n${timestamp}\n`);
