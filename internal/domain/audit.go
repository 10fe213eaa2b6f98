package domain

import "time"

// InstallationOrgID is the org_id of the installation-level audit chain,
// which records failures that belong to no organization (an unknown user's
// login attempt, say).
const InstallationOrgID = ""

// AuditEvent is one row of the tamper-evident audit log.
type AuditEvent struct {
	ID           string
	OrgID        string
	Seq          int64
	UserID       string
	APIKeyID     string
	Action       string // e.g. "workflow.created"
	ResourceType string
	ResourceID   string
	Details      map[string]any // bounded, never secrets
	IPAddress    string
	UserAgent    string
	RequestID    string
	Success      bool
	ErrorMessage string
	CreatedAt    time.Time
	PrevHash     string
	Hash         string
}

// AuditFilter selects audit rows for listing and export.
type AuditFilter struct {
	Action       string // exact, or a prefix when it ends with "*" or "."
	UserID       string
	ResourceType string
	ResourceID   string
	Success      *bool
	Since, Until *time.Time
	// BeforeSeq continues a newest-first listing after the given cursor (0 = from the newest).
	BeforeSeq int64
	Limit     int
}
