/**
 * Licence verification over Electrum with SPV proofs (DESIGN §11).
 *
 * - `verifyEvidence(terms, evidence)`: the licence rule as a pure function from bytes to a
 *   verdict listing every check.
 * - `verifyLicence(terms, servers, opts)`: fetches the evidence from Electrum servers (several
 *   cross-checked) and applies the rule; never `valid` on a server's word alone.
 * - `ElectrumClient`: newline-framed JSON-RPC over TCP/TLS with deadlines, id-matched replies,
 *   batches, keepalive and reconnect.
 * - `licencePayload()`, `readMachineId()`: what the buyer puts in the payment.
 * - `RegtestChain`, `DevElectrumServer`, `runDevnet()`: the devnet (a regtest chain served over
 *   the Electrum protocol) for trying licences offline and for tests.
 */
import '../protocol/index.js'

export { outputScriptFor, electrumScripthash, scriptType, type AddressType } from './address.js'
export { bytesToHex, hexToBytes, sha256d, hashToDisplay, displayToHash } from './bytes.js'
export { CHAIN_PARAMS, NETWORK_NAMES, isNetworkName, type NetworkName, type ChainParams } from './networks.js'
export { licenceHash, licenceOpReturnScript, licencePayload, type LicencePayload } from './payload.js'
export { readMachineId, parseIoreg, parseRegQuery, type MachineIdInfo, type MachineIdSource } from './machine-id.js'
export { merkleRootFromBranch, merkleBranchFor, merkleRoot, parsesAsTransaction, MERKLE_MAX_DEPTH } from './merkle.js'
export { parseHeader, headerFromHex, bitsToTarget, meetsOwnTarget, meetsFloor, HEADER_BYTES, type BlockHeader } from './header.js'
export {
  verifyEvidence, checkTerms, pushes, CHECK_NAMES,
  type LicenceTerms, type LicenceEvidence, type LicenceVerdict, type LicenceCheck, type LicenceStatus, type CheckName, type TipReport
} from './verify.js'
export {
  ElectrumClient, parseElectrumUrl, compareVersions,
  ELECTRUM_PROTOCOL_MIN, ELECTRUM_PROTOCOL_MAX, ELECTRUM_REQUEST_TIMEOUT_MS, ELECTRUM_CONNECT_TIMEOUT_MS,
  ELECTRUM_MAX_LINE_BYTES, ELECTRUM_KEEPALIVE_MS,
  type ElectrumClientOptions, type ElectrumUrl, type RequestOptions, type ElectrumCall
} from './electrum-client.js'
export { verifyLicence, uncheckedReport, type VerifyLicenceOptions, type LicenceReport } from './licence.js'
export { withGrace } from './grace.js'
export { splitHeaders, HEADERS_PER_REQUEST, MAX_LINK_HEADERS } from './link-plan.js'
export { readLinkState, writeLinkState, LINK_RECENT, type LinkState } from './link-state.js'
export { shippedCheckpoints, CHECKPOINT_INTERVAL, type Checkpoints } from './checkpoints.js'
export { linkToTip, type HeaderSegment, type TrustedSpan } from './header-link.js'
export { RegtestChain, mineHeader, regtestAddress, REGTEST_BITS, REGTEST_GENESIS_HASH, DEVNET_INITIAL_BLOCKS, type PaymentOutput, type HistoryEntry, type SavedChain } from './devnet/chain.js'
export { newAddress, ADDRESS_TYPES, type DevAddress } from './devnet/keys.js'
export { DevElectrumServer, SERVER_SOFTWARE, type DevElectrumServerOptions } from './devnet/electrum-server.js'
export { DATA_LIES, TRANSPORT_LIES, type Lie, type LieKind } from './devnet/lies.js'
export { makeCertificate, type DevCertificate } from './devnet/tls-cert.js'
export {
  startDevnet, readDevnetState, devnetRequest, resetDevnet,
  DEVNET_STATE_FILE, DEVNET_CONTROL_SOCKET, DEVNET_CA_FILE, DEVNET_CHAIN_FILE, DEVNET_SETUP_FILE,
  type DevnetState, type RunningDevnet, type DevnetOptions
} from './devnet/devnet.js'
export { resolveLicence, parseSats, readCa, missingLicenceKeys, licenceSettingsProblem, LICENCE_REQUIRED_KEYS, type LicenceSettings, type LicenceFlags, type ResolvedLicence } from './terms.js'
export { parseTx, type ParsedTx, type TxOutput } from './tx.js'
