// sodium-native ships no type declarations; these cover the functions Sovereign calls.
declare module 'sodium-native' {
  type Bytes = Uint8Array
  interface Sodium {
    crypto_stream_xor_STATEBYTES: number
    crypto_stream_xor_init: (state: Bytes, nonce: Bytes, key: Bytes) => void
    crypto_stream_xor_update: (state: Bytes, out: Bytes, input: Bytes) => void
    crypto_stream_xor_final: (state: Bytes) => void
    crypto_stream_salsa20: (out: Bytes, nonce: Bytes, key: Bytes) => void
    randombytes_buf: (out: Bytes) => void
    [name: string]: any
  }
  const sodium: Sodium
  export default sodium
}
