/** Product version, reported by `status` and the IPC `hello` reply. */
export const VERSION = '0.1.0'
