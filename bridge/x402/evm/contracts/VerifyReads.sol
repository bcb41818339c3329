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
//   na authorizations    (domainSeparator, from, to, value, validAfter, validBefore, nonce, v, r, s)
//                                                        → 1 word each: the signer the ecrecover precompile recovers
//                                                          from the EIP-712 digest of the EIP-3009
//                                                          TransferWithAuthorization (0: nobody)
//   then nb, ns, na.
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
            let na := mload(64)
            let inLen := mul(32, add(add(mul(nb, 2), mul(ns, 3)), mul(na, 10)))
            if gt(add(inLen, 96), size) { revert(0, 0) }
            // 0x100..0x1e0: outgoing call data and hashing; 0x180: a call's answer (used after the hashing); the
            // queries from 0x200, the answer after them.
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
            for { let i := 0 } lt(i, na) { i := add(i, 1) } {
                // hashStruct = keccak256(TRANSFER_WITH_AUTHORIZATION_TYPEHASH ‖ from ‖ to ‖ value ‖ validAfter ‖
                // validBefore ‖ nonce): the six words after the separator.
                mstore(0x100, 0x7c7c6cdb67a18743f49ec6fa9b35f50d52ed05cbed4cc592e13b44501c1a2267)
                // (word by word, not mcopy: nodes before Cancun run this too)
                mstore(0x120, mload(add(p, 32)))
                mstore(0x140, mload(add(p, 64)))
                mstore(0x160, mload(add(p, 96)))
                mstore(0x180, mload(add(p, 128)))
                mstore(0x1a0, mload(add(p, 160)))
                mstore(0x1c0, mload(add(p, 192)))
                let structHash := keccak256(0x100, 224)
                // digest = keccak256(0x1901 ‖ domainSeparator ‖ hashStruct)
                mstore(0x100, shl(240, 0x1901))
                mstore(0x102, mload(p))
                mstore(0x122, structHash)
                let digest := keccak256(0x100, 66)
                mstore(0x100, digest)
                mstore(0x120, mload(add(p, 224))) // v
                mstore(0x140, mload(add(p, 256))) // r
                mstore(0x160, mload(add(p, 288))) // s
                mstore(0x180, 0)
                pop(staticcall(gas(), 1, 0x100, 128, 0x180, 0x20))
                mstore(o, mload(0x180))
                p := add(p, 320)
                o := add(o, 32)
            }
            return(out, sub(o, out))
        }
    }
}
