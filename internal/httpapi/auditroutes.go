package httpapi

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/superagent-hq/superagent/internal/audit"
	"github.com/superagent-hq/superagent/internal/domain"
)

// AuditEventOut is one audit row as the API shows it.
type AuditEventOut struct {
	ID           string         `json:"id"`
	Seq          int64          `json:"seq"`
	Action       string         `json:"action"`
	UserID       string         `json:"user_id,omitempty"`
	APIKeyID     string         `json:"api_key_id,omitempty"`
	ResourceType string         `json:"resource_type,omitempty"`
	ResourceID   string         `json:"resource_id,omitempty"`
	Details      map[string]any `json:"details"`
	IPAddress    string         `json:"ip_address,omitempty"`
	UserAgent    string         `json:"user_agent,omitempty"`
	RequestID    string         `json:"request_id,omitempty"`
	Success      bool           `json:"success"`
	ErrorMessage string         `json:"error_message,omitempty"`
	Timestamp    time.Time      `json:"timestamp"`
	PrevHash     string         `json:"prev_hash"`
	Hash         string         `json:"hash"`
}

func auditOut(ev *domain.AuditEvent) AuditEventOut {
	return AuditEventOut{ID: ev.ID, Seq: ev.Seq, Action: ev.Action, UserID: ev.UserID, APIKeyID: ev.APIKeyID,
		ResourceType: ev.ResourceType, ResourceID: ev.ResourceID, Details: ev.Details, IPAddress: ev.IPAddress,
		UserAgent: ev.UserAgent, RequestID: ev.RequestID, Success: ev.Success, ErrorMessage: ev.ErrorMessage,
		Timestamp: ev.CreatedAt, PrevHash: ev.PrevHash, Hash: ev.Hash}
}

// AuditQuery is the selection shared by listing and export. It is
// exported because huma reads only exported fields, embedded structs
// included: an unexported embedded type would silently drop every filter.
type AuditQuery struct {
	Action       string    `query:"action" maxLength:"100" doc:"Exact action, or a prefix ending in '*' or '.' (e.g. auth.*)"`
	UserID       string    `query:"user_id" maxLength:"64"`
	ResourceType string    `query:"resource_type" maxLength:"64"`
	ResourceID   string    `query:"resource_id" maxLength:"64"`
	Success      string    `query:"success" enum:"true,false," doc:"Only successes or only failures"`
	Since        time.Time `query:"since" doc:"From this time (inclusive, RFC 3339)"`
	Until        time.Time `query:"until" doc:"Until this time (exclusive, RFC 3339)"`
}

func (a AuditQuery) filter() domain.AuditFilter {
	f := domain.AuditFilter{Action: a.Action, UserID: a.UserID, ResourceType: a.ResourceType, ResourceID: a.ResourceID}
	if a.Success != "" {
		v := a.Success == "true"
		f.Success = &v
	}
	if !a.Since.IsZero() {
		f.Since = &a.Since
	}
	if !a.Until.IsZero() {
		f.Until = &a.Until
	}
	return f
}

func (s *Server) registerAuditRoutes() {
	tags := []string{"Audit log"}
	type auditListRequest struct {
		AuditQuery
		Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50"`
		Cursor string `query:"cursor" maxLength:"24" doc:"next_cursor from the previous page"`
	}
	type auditListResponse struct {
		Body struct {
			Events     []AuditEventOut `json:"events"`
			NextCursor string          `json:"next_cursor,omitempty"`
		}
	}
	register(s, huma.Operation{OperationID: "list-audit-logs", Method: http.MethodGet, Path: "/api/v1/audit-logs", Tags: tags,
		Summary: "Query the audit log, newest first"}, Requires(domain.PermAuditRead),
		func(ctx context.Context, in *auditListRequest) (*auditListResponse, error) {
			f := in.filter()
			f.Limit = in.Limit
			if in.Cursor != "" {
				seq, err := strconv.ParseInt(in.Cursor, 10, 64)
				if err != nil || seq < 1 {
					return nil, domain.Errorf(domain.ECodeBadRequest, "invalid page cursor")
				}
				f.BeforeSeq = seq
			}
			out := &auditListResponse{}
			out.Body.Events = []AuditEventOut{}
			err := s.store.Read(ctx, principal(ctx).Scope(), func(q domain.Queries) error {
				rows, err := q.ListAudit(f)
				for i := range rows {
					out.Body.Events = append(out.Body.Events, auditOut(&rows[i]))
				}
				if len(rows) == f.Limit && len(rows) > 0 {
					out.Body.NextCursor = strconv.FormatInt(rows[len(rows)-1].Seq, 10)
				}
				return err
			})
			return out, err
		})

	type auditExportRequest struct {
		AuditQuery
		Format string `query:"format" enum:"jsonl,csv" default:"jsonl"`
	}
	register(s, huma.Operation{OperationID: "export-audit-logs", Method: http.MethodGet, Path: "/api/v1/audit-logs/export", Tags: tags,
		Summary: "Stream the selected audit rows as JSON Lines or CSV, newest first"}, Requires(domain.PermAuditExport),
		func(ctx context.Context, in *auditExportRequest) (*huma.StreamResponse, error) {
			p := principal(ctx)
			f := in.filter()
			f.Limit = 1000
			return &huma.StreamResponse{Body: func(hctx huma.Context) {
				ct, name := "application/x-ndjson", "audit-log.jsonl"
				if in.Format == "csv" {
					ct, name = "text/csv; charset=utf-8", "audit-log.csv"
				}
				hctx.SetHeader("Content-Type", ct)
				hctx.SetHeader("Content-Disposition", `attachment; filename="`+name+`"`)
				w := hctx.BodyWriter()
				var cw *csv.Writer
				if in.Format == "csv" {
					cw = csv.NewWriter(w)
					_ = cw.Write([]string{"seq", "timestamp", "action", "success", "user_id", "api_key_id", "resource_type",
						"resource_id", "ip_address", "user_agent", "request_id", "error_message", "details", "prev_hash", "hash"})
				}
				enc := json.NewEncoder(w)
				flusher, _ := w.(http.Flusher)
				for {
					var rows []domain.AuditEvent
					if err := s.store.Read(ctx, p.Scope(), func(q domain.Queries) error {
						var err error
						rows, err = q.ListAudit(f)
						return err
					}); err != nil {
						s.log.ErrorContext(ctx, "audit export interrupted", "error", err, "request_id", requestIDFrom(ctx))
						return
					}
					for i := range rows {
						o := auditOut(&rows[i])
						if cw != nil {
							d, _ := json.Marshal(o.Details)
							_ = cw.Write([]string{strconv.FormatInt(o.Seq, 10), o.Timestamp.Format(time.RFC3339Nano), o.Action,
								strconv.FormatBool(o.Success), o.UserID, o.APIKeyID, o.ResourceType, o.ResourceID, o.IPAddress,
								o.UserAgent, o.RequestID, o.ErrorMessage, string(d), o.PrevHash, o.Hash})
						} else {
							_ = enc.Encode(o)
						}
					}
					if cw != nil {
						cw.Flush()
					}
					if flusher != nil {
						flusher.Flush()
					}
					if len(rows) < f.Limit || ctx.Err() != nil {
						return
					}
					f.BeforeSeq = rows[len(rows)-1].Seq
				}
			}}, nil
		})

	type auditVerifyResponse struct {
		Body struct {
			audit.Report
			Valid bool `json:"valid"`
		}
	}
	register(s, huma.Operation{OperationID: "verify-audit-logs", Method: http.MethodGet, Path: "/api/v1/audit-logs/verify", Tags: tags,
		Summary: "Verify the organization's audit hash chain and report the first broken link"}, Requires(domain.PermAuditRead),
		func(ctx context.Context, _ *struct{}) (*auditVerifyResponse, error) {
			p := principal(ctx)
			rep, err := audit.VerifyChain(ctx, s.store, p.Scope(), p.OrgID)
			if err != nil {
				return nil, err
			}
			out := &auditVerifyResponse{}
			out.Body.Report, out.Body.Valid = *rep, rep.OK()
			return out, nil
		})
}
