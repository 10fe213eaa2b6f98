package httpapi

import (
	"context"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/superagent-hq/superagent/internal/auth"
	"github.com/superagent-hq/superagent/internal/domain"
)

type userBody struct {
	Body UserOut
}

func (s *Server) registerUserRoutes() {
	tags := []string{"Users"}
	type userListRequest struct {
		PageQuery
		Role   string `query:"role" enum:"admin,developer,operator,viewer,"`
		TeamID string `query:"team_id" maxLength:"64"`
		Active string `query:"active" enum:"true,false," doc:"Only active (true) or deactivated (false) users"`
		Search string `query:"search" maxLength:"100" doc:"Substring of e-mail, username or full name"`
	}
	type userListResponse struct {
		Body struct {
			Users      []UserOut `json:"users"`
			NextCursor string    `json:"next_cursor,omitempty"`
		}
	}
	register(s, huma.Operation{OperationID: "list-users", Method: http.MethodGet, Path: "/api/v1/users", Tags: tags,
		Summary: "List users"}, Requires(domain.PermUsersRead),
		func(ctx context.Context, in *userListRequest) (*userListResponse, error) {
			f := domain.UserFilter{Role: domain.Role(in.Role), TeamID: in.TeamID, Search: in.Search, Page: in.page()}
			if in.Active != "" {
				v := in.Active == "true"
				f.Active = &v
			}
			out := &userListResponse{}
			out.Body.Users = []UserOut{}
			err := s.store.Read(ctx, principal(ctx).Scope(), func(q domain.Queries) error {
				users, next, err := q.ListUsers(f)
				for i := range users {
					out.Body.Users = append(out.Body.Users, userOut(&users[i]))
				}
				out.Body.NextCursor = next
				return err
			})
			return out, err
		})
	register(s, huma.Operation{OperationID: "get-user", Method: http.MethodGet, Path: "/api/v1/users/{id}", Tags: tags,
		Summary: "Get a user"}, Requires(domain.PermUsersRead),
		func(ctx context.Context, in *idPath) (*userBody, error) {
			var out userBody
			err := s.store.Read(ctx, principal(ctx).Scope(), func(q domain.Queries) error {
				u, err := q.GetUser(in.ID)
				if err == nil {
					out.Body = userOut(u)
				}
				return err
			})
			return &out, err
		})

	type inviteRequest struct {
		Body struct {
			Email       string              `json:"email" maxLength:"254"`
			FullName    string              `json:"full_name,omitempty" maxLength:"200"`
			Role        domain.Role         `json:"role" enum:"admin,developer,operator,viewer"`
			TeamID      string              `json:"team_id,omitempty" maxLength:"64"`
			Permissions []domain.Permission `json:"permissions,omitempty" maxItems:"50" doc:"Extra permissions beyond the role (admins only)"`
		}
	}
	register(s, huma.Operation{OperationID: "invite-user", Method: http.MethodPost, Path: "/api/v1/users/invite", Tags: tags,
		Summary: "Invite someone by e-mail; they set their password through the link", DefaultStatus: http.StatusCreated},
		Requires(domain.PermUsersManage),
		func(ctx context.Context, in *inviteRequest) (*userBody, error) {
			u, err := s.authSvc.Invite(ctx, principal(ctx), auth.InviteInput{Email: in.Body.Email, FullName: in.Body.FullName,
				Role: in.Body.Role, TeamID: in.Body.TeamID, Permissions: in.Body.Permissions}, meta(ctx))
			if err != nil {
				return nil, err
			}
			return &userBody{Body: userOut(u)}, nil
		})
	register(s, huma.Operation{OperationID: "resend-invitation", Method: http.MethodPost, Path: "/api/v1/users/{id}/invitation",
		Tags: tags, Summary: "Send a pending user a new invitation mail", DefaultStatus: http.StatusAccepted},
		Requires(domain.PermUsersManage),
		func(ctx context.Context, in *idPath) (*struct{}, error) {
			return nil, s.authSvc.ResendInvitation(ctx, principal(ctx), in.ID, meta(ctx))
		})
	type acceptInvitationRequest struct {
		Body struct {
			Token    string `json:"token" maxLength:"128"`
			Username string `json:"username" maxLength:"50"`
			Password string `json:"password" maxLength:"256"`
			FullName string `json:"full_name,omitempty" maxLength:"200"`
		}
	}
	register(s, huma.Operation{OperationID: "accept-invitation", Method: http.MethodPost, Path: "/api/v1/auth/invitations/accept",
		Tags: []string{"Authentication"}, Summary: "Accept an invitation: choose a username and password, and sign in",
		Errors: []int{http.StatusTooManyRequests}}, Access{Public: true, RateLimited: true},
		func(ctx context.Context, in *acceptInvitationRequest) (*tokenOut, error) {
			pair, err := s.authSvc.AcceptInvitation(ctx, in.Body.Token, in.Body.Username, in.Body.Password, in.Body.FullName, meta(ctx))
			if err != nil {
				return nil, err
			}
			return tokenResponse(pair), nil
		})

	type userPatchRequest struct {
		ID   string `path:"id" maxLength:"64"`
		Body struct {
			FullName    *string              `json:"full_name,omitempty" maxLength:"200"`
			Role        *domain.Role         `json:"role,omitempty" enum:"admin,developer,operator,viewer"`
			TeamID      *string              `json:"team_id,omitempty" maxLength:"64" doc:"\"\" makes the user organization-wide"`
			Permissions *[]domain.Permission `json:"permissions,omitempty" maxItems:"50" doc:"Replaces the extra permissions (admins only)"`
		}
	}
	register(s, huma.Operation{OperationID: "update-user", Method: http.MethodPatch, Path: "/api/v1/users/{id}", Tags: tags,
		Summary: "Change a user's role, team, extra permissions or name; effective on their next request"},
		Requires(domain.PermUsersManage),
		func(ctx context.Context, in *userPatchRequest) (*userBody, error) {
			p := principal(ctx)
			var out userBody
			err := s.store.Write(ctx, p.Scope(), func(tx domain.Tx) error {
				u, err := tx.GetUser(in.ID)
				if err != nil || u.DeletedAt != nil {
					return domain.NotFound("user")
				}
				if u.Role == domain.RoleAdmin && p.Role != domain.RoleAdmin {
					return domain.Errorf(domain.ECodeForbidden, "only an admin can change an admin")
				}
				changes := map[string]any{}
				var errs []domain.FieldError
				if in.Body.Role != nil && *in.Body.Role != u.Role {
					errs = append(errs, auth.CheckGrant(p, *in.Body.Role, nil, "/permissions")...)
					if u.Role == domain.RoleAdmin {
						if err := keepAnAdmin(tx, u); err != nil {
							return err
						}
					}
					changes["role"] = map[string]any{"from": string(u.Role), "to": string(*in.Body.Role)}
					u.Role = *in.Body.Role
				}
				if in.Body.Permissions != nil {
					errs = append(errs, auth.CheckGrant(p, u.Role, *in.Body.Permissions, "/permissions")...)
					changes["permissions"] = *in.Body.Permissions
					u.Permissions = *in.Body.Permissions
				}
				if in.Body.TeamID != nil && *in.Body.TeamID != u.TeamID {
					if *in.Body.TeamID != "" {
						if _, err := tx.GetTeam(*in.Body.TeamID); err != nil {
							errs = append(errs, domain.FieldError{Pointer: "/team_id", Message: "no such team"})
						}
					}
					changes["team_id"] = *in.Body.TeamID
					u.TeamID = *in.Body.TeamID
				}
				if in.Body.FullName != nil {
					u.FullName = strings.TrimSpace(*in.Body.FullName)
					changes["full_name"] = true
				}
				if len(errs) > 0 {
					return domain.Invalid("the change has problems", errs...)
				}
				if err := tx.UpdateUser(u); err != nil {
					return err
				}
				action := "user.updated"
				if changes["role"] != nil || changes["permissions"] != nil {
					action = "user.permissions_changed"
				}
				tx.Audit(auditEvent(ctx, action, "user", u.ID, changes))
				out.Body = userOut(u)
				return nil
			})
			return &out, err
		})

	lifecycle := func(opID, path, summary, action string, apply func(tx domain.Tx, u *domain.User) error) {
		register(s, huma.Operation{OperationID: opID, Method: http.MethodPost, Path: path, Tags: tags, Summary: summary},
			Requires(domain.PermUsersManage),
			func(ctx context.Context, in *idPath) (*userBody, error) {
				p := principal(ctx)
				var out userBody
				err := s.store.Write(ctx, p.Scope(), func(tx domain.Tx) error {
					u, err := tx.GetUser(in.ID)
					if err != nil || u.DeletedAt != nil {
						return domain.NotFound("user")
					}
					if u.Role == domain.RoleAdmin && p.Role != domain.RoleAdmin {
						return domain.Errorf(domain.ECodeForbidden, "only an admin can change an admin")
					}
					if err := apply(tx, u); err != nil {
						return err
					}
					if err := tx.UpdateUser(u); err != nil {
						return err
					}
					tx.Audit(auditEvent(ctx, action, "user", u.ID, nil))
					out.Body = userOut(u)
					return nil
				})
				return &out, err
			})
	}
	lifecycle("deactivate-user", "/api/v1/users/{id}/deactivate", "Deactivate a user: every session and API key stops at once",
		"user.deactivated", func(tx domain.Tx, u *domain.User) error {
			if err := keepAnAdmin(tx, u); err != nil {
				return err
			}
			u.IsActive = false
			_, err := tx.RevokeUserSessions(u.ID, "deactivated", tx.Now())
			return err
		})
	lifecycle("reactivate-user", "/api/v1/users/{id}/reactivate", "Reactivate a user", "user.reactivated",
		func(tx domain.Tx, u *domain.User) error {
			u.IsActive = true
			return nil
		})

	register(s, huma.Operation{OperationID: "delete-user", Method: http.MethodDelete, Path: "/api/v1/users/{id}", Tags: tags,
		Summary:       "Delete a user: deactivated and anonymised; the id stays valid in history",
		DefaultStatus: http.StatusNoContent}, Requires(domain.PermUsersManage),
		func(ctx context.Context, in *idPath) (*struct{}, error) {
			p := principal(ctx)
			return nil, s.store.Write(ctx, p.Scope(), func(tx domain.Tx) error {
				u, err := tx.GetUser(in.ID)
				if err != nil || u.DeletedAt != nil {
					return domain.NotFound("user")
				}
				if u.Role == domain.RoleAdmin && p.Role != domain.RoleAdmin {
					return domain.Errorf(domain.ECodeForbidden, "only an admin can delete an admin")
				}
				if err := keepAnAdmin(tx, u); err != nil {
					return err
				}
				now := tx.Now()
				suffix := strings.TrimPrefix(u.ID, domain.PrefixUser+"_")
				u.Email, u.Username, u.FullName = "deleted-"+suffix+"@deleted.invalid", "deleted-"+suffix, ""
				u.PasswordHash, u.MFAEnabled, u.MFASecret, u.Permissions, u.IsActive, u.DeletedAt = "", false, "", nil, false, &now
				if err := tx.UpdateUser(u); err != nil {
					return err
				}
				if _, err := tx.RevokeUserSessions(u.ID, "deleted", now); err != nil {
					return err
				}
				if err := tx.ReplaceRecoveryCodes(u.ID, nil, now); err != nil {
					return err
				}
				tx.Audit(auditEvent(ctx, "user.deleted", "user", u.ID, nil))
				return nil
			})
		})

	type sessionsRevokedResponse struct {
		Body struct {
			SessionsEnded int `json:"sessions_ended"`
		}
	}
	register(s, huma.Operation{OperationID: "end-user-sessions", Method: http.MethodPost, Path: "/api/v1/users/{id}/sessions/revoke",
		Tags: tags, Summary: "End every session of a user"}, Requires(domain.PermUsersManage),
		func(ctx context.Context, in *idPath) (*sessionsRevokedResponse, error) {
			out := &sessionsRevokedResponse{}
			err := s.store.Write(ctx, principal(ctx).Scope(), func(tx domain.Tx) error {
				if _, err := tx.GetUser(in.ID); err != nil {
					return err
				}
				n, err := tx.RevokeUserSessions(in.ID, "ended by an administrator", tx.Now())
				if err != nil {
					return err
				}
				out.Body.SessionsEnded = n
				tx.Audit(auditEvent(ctx, "user.sessions_revoked", "user", in.ID, map[string]any{"sessions_ended": n}))
				return nil
			})
			return out, err
		})
}

// keepAnAdmin refuses to demote, deactivate or delete the organization's
// last active admin.
func keepAnAdmin(tx domain.Tx, u *domain.User) error {
	if u.Role != domain.RoleAdmin || !u.IsActive || u.Pending() {
		return nil
	}
	n, err := tx.CountActiveAdmins()
	if err != nil {
		return err
	}
	if n <= 1 {
		return domain.Errorf(domain.ECodeConflict, "this is the organization's last active admin: make someone else an admin first")
	}
	return nil
}
