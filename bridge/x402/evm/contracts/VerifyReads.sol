// SPDX-License-Identifier: MIT
// VerifyReads: the chain reads of many x402 verifications in one eth_call. It is never deployed: the facilitator
// sends this creation code followed by its queries as an eth_call without a `to` ("deployless"), and the
// constructor returns its answer in place of runtime code. Every node runs that, whatever contracts its chain has.
//
// The queries follow the code as 32-byte words, and the last three words count them:
//   nb balance queries   (token, owner)                 → 2 words each: ok (1, or 0 when the token did not answer
//                                                          one word), balanceOf(owner)
//   ns nonce queries     (token, authorizer, nonce)     → 1 word each: authorizationState — 0 unused, 1 used,
//                                                          2 the token did not answer
//   nr recoveries        (digest, v, r, s)              → 1 word each: the signer the ecrecover precompile
//                                                          recovers (0: nobody)
//   then nb, ns, nr.
// The answer is the words in that order, nothing around them. A token that reverts or answers nonsense fails its
// own queries, not the call. It is written in assembly because every opcode counts when a node traces calls (a
// Solidity ABI decoder of struct arrays costs several times the calls themselves); bridge/x402/evm/batch-reads.ts
// builds the call and reads the answer, and test/x402/evm/batch-reads.test.ts runs it against the test chain.
pragma solidity 0.8.28;

contract VerifyReads {
    constructor() {
        assembly {
            let size := codesize()
            codecopy(0, sub(size, 96), 96)
            let nb := mload(0)
            let ns := mload(32)
            let nr := mload(64)
            let inLen := mul(32, add(add(mul(nb, 2), mul(ns, 3)), mul(nr, 4)))
            if gt(add(inLen, 96), size) { revert(0, 0) }
            // 0x100..0x144: outgoing call data; 0x180: a call's answer; the queries from 0x200, the answer after them.
            let p := 0x200
            codecopy(p, sub(sub(size, 96), inLen), inLen)
            let out := add(p, inLen)
            let o := out
            for { let i := 0 } lt(i, nb) { i := add(i, 1) } {
                mstore(0x100, shl(224, 0x70a08231)) // balanceOf(address)
                mstore(0x104, mload(add(p, 32)))
                let ok := staticcall(gas(), mload(p), 0x100, 0x24, 0x180, 0x20)
                ok := and(ok, iszero(lt(returndatasize(), 32))) // (Yul evaluates arguments right to left)
                mstore(o, ok)
                mstore(add(o, 32), mul(ok, mload(0x180)))
                p := add(p, 64)
                o := add(o, 64)
            }
            for { let i := 0 } lt(i, ns) { i := add(i, 1) } {
                mstore(0x100, shl(224, 0xe94a0102)) // authorizationState(address,bytes32)
                mstore(0x104, mload(add(p, 32)))
                mstore(0x124, mload(add(p, 64)))
                let ok := staticcall(gas(), mload(p), 0x100, 0x44, 0x180, 0x20)
                ok := and(ok, iszero(lt(returndatasize(), 32)))
                switch ok
                case 0 { mstore(o, 2) }
                default { mstore(o, iszero(iszero(mload(0x180)))) }
                p := add(p, 96)
                o := add(o, 32)
            }
            for { let i := 0 } lt(i, nr) { i := add(i, 1) } {
                mstore(0x180, 0)
                pop(staticcall(gas(), 1, p, 128, 0x180, 0x20))
                mstore(o, mload(0x180))
                p := add(p, 128)
                o := add(o, 32)
            }
            return(out, sub(o, out))
        }
    }
}
