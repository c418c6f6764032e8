// A self-signed certificate for the devnet's ssl:// port, made at run time (P-256, SANs for
// localhost, 127.0.0.1 and ::1), the way Electrum servers usually run.

export interface DevCertificate { cert: string, key: string, fingerprint: string }

/** Valid for a year from an hour ago (clock skew between processes is not an error here). */
export async function makeCertificate (commonName = 'sov-devnet'): Promise<DevCertificate> {
  // Loaded here, not at the top: importing selfsigned costs ~100 ms every CLI command would pay.
  const { generate } = await import('selfsigned')
  const notBeforeDate = new Date(Date.now() - 3_600_000)
  const notAfterDate = new Date(notBeforeDate.getTime() + 365 * 86_400_000)
  const pems = await generate([{ name: 'commonName', value: commonName }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }, { type: 7, ip: '::1' }] }
    ]
  })
  return { cert: pems.cert, key: pems.private, fingerprint: pems.fingerprint }
}
