// Package audit makes the audit log tamper-evident: each row's hash covers a
// canonical form of the row made here in Go (sorted keys, UTC timestamps at
// microsecond precision), its sequence number and the previous row's hash,
// so a database's JSON or timestamp normalisation cannot break the chain and
// any edit, deletion or reordering of rows can.
package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/superagent-hq/superagent/internal/domain"
)

// GenesisHash is the previous hash of a chain's first row.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// Limits on what an audit row may hold.
const (
	MaxDetailsBytes   = 8 * 1024
	MaxUserAgentBytes = 512
	MaxErrorBytes     = 1024
	MaxFieldBytes     = 256
)

// TimeLayout is the canonical timestamp form: UTC, exactly six fractional digits.
const TimeLayout = "2006-01-02T15:04:05.000000Z"

// Normalize bounds every field of ev and canonicalises its details and
// timestamp, so what is hashed is exactly what is stored and read back.
func Normalize(ev *domain.AuditEvent) {
	ev.CreatedAt = ev.CreatedAt.UTC().Truncate(time.Microsecond)
	ev.UserAgent = truncate(ev.UserAgent, MaxUserAgentBytes)
	ev.ErrorMessage = truncate(ev.ErrorMessage, MaxErrorBytes)
	ev.Action = truncate(ev.Action, MaxFieldBytes)
	ev.ResourceType = truncate(ev.ResourceType, MaxFieldBytes)
	ev.ResourceID = truncate(ev.ResourceID, MaxFieldBytes)
	ev.IPAddress = truncate(ev.IPAddress, MaxFieldBytes)
	ev.RequestID = truncate(ev.RequestID, MaxFieldBytes)
}

// CanonicalDetails returns the details as canonical JSON (sorted keys, Go's
// number formatting), bounded to MaxDetailsBytes; oversized details are
// replaced by a marker saying so.
func CanonicalDetails(details map[string]any) string {
	if len(details) == 0 {
		return "{}"
	}
	raw, err := json.Marshal(details)
	if err != nil {
		return `{"_error":"details not serialisable"}`
	}
	// Round-trip through a generic value so nested structs and maps come
	// out with sorted keys and one number format.
	var generic any
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&generic); err != nil {
		return `{"_error":"details not serialisable"}`
	}
	out, err := json.Marshal(generic)
	if err != nil {
		return `{"_error":"details not serialisable"}`
	}
	if len(out) > MaxDetailsBytes {
		return fmt.Sprintf(`{"_bytes":%d,"_truncated":true}`, len(out))
	}
	return string(out)
}

// ParseDetails reads stored canonical details back.
func ParseDetails(s string) map[string]any {
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil || m == nil {
		return map[string]any{}
	}
	return m
}

type canonicalRow struct {
	Action       string `json:"action"`
	APIKeyID     string `json:"api_key_id"`
	CreatedAt    string `json:"created_at"`
	Details      string `json:"details"`
	ErrorMessage string `json:"error_message"`
	ID           string `json:"id"`
	IPAddress    string `json:"ip_address"`
	OrgID        string `json:"org_id"`
	PrevHash     string `json:"prev_hash"`
	RequestID    string `json:"request_id"`
	ResourceID   string `json:"resource_id"`
	ResourceType string `json:"resource_type"`
	Seq          int64  `json:"seq"`
	Success      bool   `json:"success"`
	UserAgent    string `json:"user_agent"`
	UserID       string `json:"user_id"`
}

// Hash returns the hex SHA-256 of ev's canonical form. details must be the
// canonical details string stored with the row.
func Hash(ev *domain.AuditEvent, details string) string {
	row := canonicalRow{
		Action: ev.Action, APIKeyID: ev.APIKeyID, CreatedAt: ev.CreatedAt.UTC().Format(TimeLayout),
		Details: details, ErrorMessage: ev.ErrorMessage, ID: ev.ID, IPAddress: ev.IPAddress,
		OrgID: ev.OrgID, PrevHash: ev.PrevHash, RequestID: ev.RequestID, ResourceID: ev.ResourceID,
		ResourceType: ev.ResourceType, Seq: ev.Seq, Success: ev.Success, UserAgent: ev.UserAgent,
		UserID: ev.UserID,
	}
	b, _ := json.Marshal(row) // a struct of strings, ints and bools always marshals
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Link sets ev's place in the chain after (prevSeq, prevHash) and its hash.
func Link(ev *domain.AuditEvent, details string, prevSeq int64, prevHash string) {
	ev.Seq = prevSeq + 1
	ev.PrevHash = prevHash
	ev.Hash = Hash(ev, details)
}

// Break describes the first broken link found by verification.
type Break struct {
	OrgID  string `json:"org_id"`
	Seq    int64  `json:"seq"`
	ID     string `json:"id,omitempty"`
	Reason string `json:"reason"`
}

// Verifier checks a chain incrementally, page by page, starting after a
// checkpoint (seq 0 and GenesisHash for an unpruned chain).
type Verifier struct {
	OrgID    string
	lastSeq  int64
	lastHash string
	Checked  int64
}

// NewVerifier starts verification after the given checkpoint.
func NewVerifier(orgID string, afterSeq int64, afterHash string) *Verifier {
	if afterHash == "" {
		afterHash = GenesisHash
	}
	return &Verifier{OrgID: orgID, lastSeq: afterSeq, lastHash: afterHash}
}

// Next checks the next rows (ascending seq) and returns the first break.
func (v *Verifier) Next(rows []domain.AuditEvent) *Break {
	for i := range rows {
		ev := &rows[i]
		details := CanonicalDetails(ev.Details)
		switch {
		case ev.Seq != v.lastSeq+1:
			return &Break{OrgID: v.OrgID, Seq: v.lastSeq + 1, ID: ev.ID,
				Reason: fmt.Sprintf("expected seq %d, found %d: rows are missing or reordered", v.lastSeq+1, ev.Seq)}
		case ev.PrevHash != v.lastHash:
			return &Break{OrgID: v.OrgID, Seq: ev.Seq, ID: ev.ID, Reason: "previous-hash link does not match the preceding row"}
		case Hash(ev, details) != ev.Hash:
			return &Break{OrgID: v.OrgID, Seq: ev.Seq, ID: ev.ID, Reason: "row content does not match its hash: the row was changed"}
		}
		v.lastSeq, v.lastHash = ev.Seq, ev.Hash
		v.Checked++
	}
	return nil
}

// Finish compares the end of the chain with the recorded head (seq, hash):
// rows removed from the end show up here.
func (v *Verifier) Finish(headSeq int64, headHash string) *Break {
	if headSeq == 0 && headHash == "" {
		return nil
	}
	if v.lastSeq != headSeq || v.lastHash != headHash {
		return &Break{OrgID: v.OrgID, Seq: v.lastSeq + 1,
			Reason: fmt.Sprintf("chain ends at seq %d but its head records seq %d: rows were removed", v.lastSeq, headSeq)}
	}
	return nil
}

func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	s = s[:max]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
