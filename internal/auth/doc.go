// Package auth holds the security primitives of Super Agent: argon2id
// password hashing and the password policy, signed access tokens (JWT),
// opaque tokens (refresh tokens, API keys, one-time links), TOTP and recovery
// codes. It touches no database and no HTTP; the store keeps what these
// functions return (hashes, never plaintext secrets) and the HTTP layer
// decides what to do with their verdicts.
//
// The RBAC permission catalog lives in package domain.
package auth
