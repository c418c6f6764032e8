/** Licence verification over Electrum with SPV proofs. */
export {}
