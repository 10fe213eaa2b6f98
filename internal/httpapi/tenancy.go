package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/superagent-hq/superagent/internal/domain"
)

// OrganizationOut is an organization as the API shows it.
type OrganizationOut struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Slug       string            `json:"slug"`
	Plan       domain.Plan       `json:"plan"`
	Limits     domain.PlanLimits `json:"limits"`
	Settings   map[string]any    `json:"settings"`
	RequireMFA bool              `json:"require_mfa"`
	IsActive   bool              `json:"is_active"`
	CreatedAt  time.Time         `json:"created_at"`
}

func orgOut(o *domain.Organization) OrganizationOut {
	settings := o.Settings
	if settings == nil {
		settings = map[string]any{}
	}
	return OrganizationOut{ID: o.ID, Name: o.Name, Slug: o.Slug, Plan: o.Plan, Limits: o.Limits, Settings: settings,
		RequireMFA: o.RequireMFA, IsActive: o.IsActive, CreatedAt: o.CreatedAt}
}

// TeamOut is a team as the API shows it.
type TeamOut struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func teamOut(t *domain.Team) TeamOut {
	return TeamOut{ID: t.ID, Name: t.Name, Description: t.Description, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
}

type idPath struct {
	ID string `path:"id" maxLength:"64" doc:"Object id"`
}

type pageQuery struct {
	Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size (at most 200)"`
	Cursor string `query:"cursor" maxLength:"200" doc:"next_cursor from the previous page"`
}

func (q pageQuery) page() domain.Page { return domain.Page{Limit: q.Limit, Cursor: q.Cursor} }

// PageQuery is pageQuery for embedding in a route's input: huma reads the
// fields of exported embedded structs only, so an embedded pageQuery would
// silently drop limit and cursor.
type PageQuery = pageQuery

func (s *Server) registerTenancyRoutes() {
	s.registerCatalogRoutes()
	s.registerOrgRoutes()
	s.registerTeamRoutes()
	s.registerUserRoutes()
}

func (s *Server) registerCatalogRoutes() {
	tags := []string{"Access control"}
	type roleItem struct {
		Name        domain.Role         `json:"name"`
		Permissions []domain.Permission `json:"permissions"`
	}
	type rolesResponse struct {
		Body struct {
			Roles []roleItem `json:"roles"`
		}
	}
	register(s, huma.Operation{OperationID: "list-roles", Method: http.MethodGet, Path: "/api/v1/roles", Tags: tags,
		Summary: "The roles and the permissions each grants"}, Authenticated(),
		func(ctx context.Context, _ *struct{}) (*rolesResponse, error) {
			out := &rolesResponse{}
			for _, r := range domain.Roles {
				out.Body.Roles = append(out.Body.Roles, roleItem{Name: r, Permissions: domain.RolePermissions(r)})
			}
			return out, nil
		})
	type permissionsResponse struct {
		Body struct {
			Permissions []domain.PermissionInfo `json:"permissions"`
		}
	}
	register(s, huma.Operation{OperationID: "list-permissions", Method: http.MethodGet, Path: "/api/v1/permissions", Tags: tags,
		Summary: "The permission catalog"}, Authenticated(),
		func(ctx context.Context, _ *struct{}) (*permissionsResponse, error) {
			out := &permissionsResponse{}
			out.Body.Permissions = domain.Permissions
			return out, nil
		})
}

type orgBody struct {
	Body OrganizationOut
}

func (s *Server) registerOrgRoutes() {
	tags := []string{"Organization"}
	register(s, huma.Operation{OperationID: "get-org", Method: http.MethodGet, Path: "/api/v1/org", Tags: tags,
		Summary: "My organization, its plan and limits"}, Requires(domain.PermOrgRead),
		func(ctx context.Context, _ *struct{}) (*orgBody, error) {
			p := principal(ctx)
			var out orgBody
			err := s.store.Read(ctx, p.Scope(), func(q domain.Queries) error {
				o, err := q.GetOrganization(p.OrgID)
				if err == nil {
					out.Body = orgOut(o)
				}
				return err
			})
			return &out, err
		})
	type orgPatchRequest struct {
		Body struct {
			Name       *string        `json:"name,omitempty" minLength:"1" maxLength:"100"`
			Settings   map[string]any `json:"settings,omitempty" doc:"Replaces the organization's settings (at most 8 KiB of JSON)"`
			RequireMFA *bool          `json:"require_mfa,omitempty" doc:"Require every member to use multi-factor authentication"`
		}
	}
	register(s, huma.Operation{OperationID: "update-org", Method: http.MethodPatch, Path: "/api/v1/org", Tags: tags,
		Summary:     "Change the organization's name, settings or MFA requirement",
		Description: "The plan and its limits are set by the installation's operator (`superagent org set-plan`)."},
		Requires(domain.PermOrgManage),
		func(ctx context.Context, in *orgPatchRequest) (*orgBody, error) {
			p := principal(ctx)
			if in.Body.Settings != nil {
				if b, _ := json.Marshal(in.Body.Settings); len(b) > 8192 {
					return nil, domain.Invalid("settings are too large", domain.FieldError{Pointer: "/settings", Message: "at most 8 KiB of JSON"})
				}
			}
			var out orgBody
			err := s.store.Write(ctx, p.Scope(), func(tx domain.Tx) error {
				o, err := tx.GetOrganization(p.OrgID)
				if err != nil {
					return err
				}
				changed := map[string]any{}
				if in.Body.Name != nil && strings.TrimSpace(*in.Body.Name) != o.Name {
					o.Name = strings.TrimSpace(*in.Body.Name)
					changed["name"] = o.Name
				}
				if in.Body.Settings != nil {
					// The default team is the installation's, not a tenant setting.
					if id, ok := o.Settings["default_team_id"]; ok {
						in.Body.Settings["default_team_id"] = id
					}
					o.Settings = in.Body.Settings
					changed["settings"] = true
				}
				if in.Body.RequireMFA != nil && *in.Body.RequireMFA && !o.RequireMFA {
					me, err := tx.GetUser(p.UserID)
					if err != nil {
						return err
					}
					if !me.MFAEnabled && !p.Development {
						return domain.Errorf(domain.ECodeConflict, "enable MFA on your own account before requiring it of everyone")
					}
				}
				if in.Body.RequireMFA != nil && *in.Body.RequireMFA != o.RequireMFA {
					o.RequireMFA = *in.Body.RequireMFA
					changed["require_mfa"] = o.RequireMFA
				}
				if len(changed) > 0 {
					if err := tx.UpdateOrganization(o); err != nil {
						return err
					}
					tx.Audit(auditEvent(ctx, "organization.updated", "organization", o.ID, changed))
				}
				out.Body = orgOut(o)
				return nil
			})
			return &out, err
		})
}

type teamBody struct {
	Body TeamOut
}

func (s *Server) registerTeamRoutes() {
	tags := []string{"Teams"}
	type teamListResponse struct {
		Body struct {
			Teams      []TeamOut `json:"teams"`
			NextCursor string    `json:"next_cursor,omitempty"`
		}
	}
	register(s, huma.Operation{OperationID: "list-teams", Method: http.MethodGet, Path: "/api/v1/teams", Tags: tags,
		Summary: "List teams"}, Requires(domain.PermTeamsRead),
		func(ctx context.Context, in *pageQuery) (*teamListResponse, error) {
			out := &teamListResponse{}
			out.Body.Teams = []TeamOut{}
			err := s.store.Read(ctx, principal(ctx).Scope(), func(q domain.Queries) error {
				teams, next, err := q.ListTeams(in.page())
				for i := range teams {
					out.Body.Teams = append(out.Body.Teams, teamOut(&teams[i]))
				}
				out.Body.NextCursor = next
				return err
			})
			return out, err
		})
	register(s, huma.Operation{OperationID: "get-team", Method: http.MethodGet, Path: "/api/v1/teams/{id}", Tags: tags,
		Summary: "Get a team"}, Requires(domain.PermTeamsRead),
		func(ctx context.Context, in *idPath) (*teamBody, error) {
			var out teamBody
			err := s.store.Read(ctx, principal(ctx).Scope(), func(q domain.Queries) error {
				t, err := q.GetTeam(in.ID)
				if err == nil {
					out.Body = teamOut(t)
				}
				return err
			})
			return &out, err
		})
	type teamCreateRequest struct {
		Body struct {
			Name        string `json:"name" minLength:"1" maxLength:"100"`
			Description string `json:"description,omitempty" maxLength:"1000"`
		}
	}
	register(s, huma.Operation{OperationID: "create-team", Method: http.MethodPost, Path: "/api/v1/teams", Tags: tags,
		Summary: "Create a team", DefaultStatus: http.StatusCreated}, Requires(domain.PermTeamsManage),
		func(ctx context.Context, in *teamCreateRequest) (*teamBody, error) {
			p := principal(ctx)
			t := &domain.Team{ID: domain.NewID(domain.PrefixTeam), Name: strings.TrimSpace(in.Body.Name), Description: in.Body.Description}
			err := s.store.Write(ctx, p.Scope(), func(tx domain.Tx) error {
				o, err := tx.GetOrganization(p.OrgID)
				if err != nil {
					return err
				}
				n, err := tx.CountTeams()
				if err != nil {
					return err
				}
				if n >= o.Limits.MaxTeams {
					return planLimit("max_teams", o.Limits.MaxTeams, "teams", o.Plan)
				}
				if err := tx.CreateTeam(t); err != nil {
					return err
				}
				tx.Audit(auditEvent(ctx, "team.created", "team", t.ID, map[string]any{"name": t.Name}))
				return nil
			})
			return &teamBody{Body: teamOut(t)}, err
		})
	type teamPatchRequest struct {
		ID   string `path:"id" maxLength:"64"`
		Body struct {
			Name        *string `json:"name,omitempty" minLength:"1" maxLength:"100"`
			Description *string `json:"description,omitempty" maxLength:"1000"`
		}
	}
	register(s, huma.Operation{OperationID: "update-team", Method: http.MethodPatch, Path: "/api/v1/teams/{id}", Tags: tags,
		Summary: "Rename or describe a team"}, Requires(domain.PermTeamsManage),
		func(ctx context.Context, in *teamPatchRequest) (*teamBody, error) {
			var out teamBody
			err := s.store.Write(ctx, principal(ctx).Scope(), func(tx domain.Tx) error {
				t, err := tx.GetTeam(in.ID)
				if err != nil {
					return err
				}
				if in.Body.Name != nil {
					t.Name = strings.TrimSpace(*in.Body.Name)
				}
				if in.Body.Description != nil {
					t.Description = *in.Body.Description
				}
				if err := tx.UpdateTeam(t); err != nil {
					return err
				}
				tx.Audit(auditEvent(ctx, "team.updated", "team", t.ID, map[string]any{"name": t.Name}))
				out.Body = teamOut(t)
				return nil
			})
			return &out, err
		})
	register(s, huma.Operation{OperationID: "delete-team", Method: http.MethodDelete, Path: "/api/v1/teams/{id}", Tags: tags,
		Summary: "Delete a team; its members and resources become organization-wide", DefaultStatus: http.StatusNoContent},
		Requires(domain.PermTeamsManage),
		func(ctx context.Context, in *idPath) (*struct{}, error) {
			return nil, s.store.Write(ctx, principal(ctx).Scope(), func(tx domain.Tx) error {
				t, err := tx.GetTeam(in.ID)
				if err != nil {
					return err
				}
				if err := tx.DeleteTeam(in.ID); err != nil {
					return err
				}
				tx.Audit(auditEvent(ctx, "team.deleted", "team", in.ID, map[string]any{"name": t.Name}))
				return nil
			})
		})
}

// planLimit is the error for a reached plan limit, the same as every other
// plan limit (workflows, library agents, executions): limit_exceeded with
// the limit and its value named, so a client handles them in one place.
func planLimit(limit string, value int, what string, plan domain.Plan) error {
	return &domain.Error{Code: domain.ECodeLimitExceeded, Limit: limit, LimitValue: int64(value),
		Message: fmt.Sprintf("the %s plan allows at most %d %s (%s)", plan, value, what, limit)}
}
