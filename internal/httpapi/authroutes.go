package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/superagent-hq/superagent/internal/auth"
	"github.com/superagent-hq/superagent/internal/domain"
)

// serviceAuthenticator adapts the auth service to the access gate.
type serviceAuthenticator struct{ svc *auth.Service }

// NewAuthenticator returns the gate's authenticator backed by the auth service.
func NewAuthenticator(svc *auth.Service) Authenticator { return serviceAuthenticator{svc} }

func (a serviceAuthenticator) Authenticate(ctx context.Context, c Credentials, allowRestricted bool) (*domain.Principal, error) {
	return a.svc.Authenticate(ctx, c.Authorization, c.APIKey, metaOf(c), allowRestricted)
}

func (a serviceAuthenticator) AuthenticateRead(ctx context.Context, c Credentials, allowRestricted bool) (*domain.Principal, *domain.PrincipalCheck, error) {
	return a.svc.AuthenticateRead(ctx, c.Authorization, c.APIKey, metaOf(c), allowRestricted)
}

func (a serviceAuthenticator) Confirm(ctx context.Context, c *domain.PrincipalCheck) error {
	return a.svc.Confirm(ctx, c)
}

func (a serviceAuthenticator) Denied(ctx context.Context, p *domain.Principal, perm domain.Permission, c Credentials, method, path string) {
	a.svc.Denied(ctx, p, perm, metaOf(c), method, path)
}

func metaOf(c Credentials) auth.Meta {
	return auth.Meta{IP: c.IP, UserAgent: c.UserAgent, RequestID: c.RequestID}
}

// meta describes the current request for the auth service.
func meta(ctx context.Context) auth.Meta {
	if ri := reqInfoFrom(ctx); ri != nil {
		return auth.Meta{IP: ri.ip, UserAgent: ri.userAgent, RequestID: ri.id}
	}
	return auth.Meta{}
}

// UserOut is a user as the API shows it: never a hash or secret.
type UserOut struct {
	ID            string              `json:"id"`
	Email         string              `json:"email"`
	Username      string              `json:"username"`
	FullName      string              `json:"full_name"`
	Role          domain.Role         `json:"role"`
	Permissions   []domain.Permission `json:"permissions" doc:"Permissions granted beyond the role"`
	OrgID         string              `json:"org_id"`
	TeamID        string              `json:"team_id,omitempty"`
	IsActive      bool                `json:"is_active"`
	Pending       bool                `json:"pending" doc:"Invited and not yet accepted"`
	EmailVerified bool                `json:"email_verified"`
	MFAEnabled    bool                `json:"mfa_enabled"`
	LastLogin     *time.Time          `json:"last_login,omitempty"`
	CreatedAt     time.Time           `json:"created_at"`
	Deleted       bool                `json:"deleted,omitempty"`
}

func userOut(u *domain.User) UserOut {
	perms := u.Permissions
	if perms == nil {
		perms = []domain.Permission{}
	}
	return UserOut{ID: u.ID, Email: u.Email, Username: u.Username, FullName: u.FullName, Role: u.Role, Permissions: perms,
		OrgID: u.OrgID, TeamID: u.TeamID, IsActive: u.IsActive, Pending: u.Pending(), EmailVerified: u.EmailVerifiedAt != nil,
		MFAEnabled: u.MFAEnabled, LastLogin: u.LastLogin, CreatedAt: u.CreatedAt, Deleted: u.DeletedAt != nil}
}

// TokenResponse is the OAuth 2.0 token response (RFC 6749 §5.1) plus the user.
type TokenResponse struct {
	AccessToken  string  `json:"access_token"`
	TokenType    string  `json:"token_type" example:"bearer"`
	ExpiresIn    int     `json:"expires_in" doc:"Seconds until the access token expires"`
	RefreshToken string  `json:"refresh_token"`
	User         UserOut `json:"user"`
}

type tokenOut struct {
	CacheControl string `header:"Cache-Control"`
	Pragma       string `header:"Pragma"`
	Body         TokenResponse
}

func tokenResponse(p *auth.TokenPair) *tokenOut {
	return &tokenOut{CacheControl: "no-store", Pragma: "no-cache", Body: TokenResponse{AccessToken: p.AccessToken,
		TokenType: "bearer", ExpiresIn: p.ExpiresIn(time.Now()), RefreshToken: p.RefreshToken, User: userOut(p.User)}}
}

// OAuthError is an OAuth 2.0 error response (RFC 6749 §5.2).
type OAuthError struct {
	status      int
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
	MFAToken    string `json:"mfa_token,omitempty"`
	ExpiresIn   int    `json:"expires_in,omitempty"`
}

func (e *OAuthError) Error() string { return e.Code + ": " + e.Description }

// GetStatus implements huma.StatusError.
func (e *OAuthError) GetStatus() int { return e.status }

// GetHeaders implements huma.HeadersError: OAuth errors are not cached either.
func (e *OAuthError) GetHeaders() http.Header {
	return http.Header{"Cache-Control": {"no-store"}, "Pragma": {"no-cache"}}
}

func oauthError(status int, code, desc string) *OAuthError {
	return &OAuthError{status: status, Code: code, Description: desc}
}

// loginRequest is the password grant, as a form or as JSON.
type loginRequest struct {
	GrantType    string `json:"grant_type,omitempty" enum:"password,refresh_token" doc:"password (default) or refresh_token"`
	Username     string `json:"username,omitempty" maxLength:"320" doc:"E-mail address or username"`
	Password     string `json:"password,omitempty" maxLength:"256"`
	RefreshToken string `json:"refresh_token,omitempty" maxLength:"512" doc:"For grant_type=refresh_token"`
	Scope        string `json:"scope,omitempty" doc:"Ignored"`
}

func parseLoginBody(contentType string, raw []byte) (loginRequest, error) {
	var in loginRequest
	mt := strings.ToLower(strings.TrimSpace(strings.SplitN(contentType, ";", 2)[0]))
	switch mt {
	case "application/x-www-form-urlencoded", "":
		v, err := url.ParseQuery(string(raw))
		if err != nil {
			return in, errors.New("the body is not valid form data")
		}
		in = loginRequest{GrantType: v.Get("grant_type"), Username: v.Get("username"), Password: v.Get("password"),
			RefreshToken: v.Get("refresh_token"), Scope: v.Get("scope")}
	case "application/json":
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			return in, errors.New("the body is not a valid JSON login request")
		}
	default:
		return in, errors.New("use application/x-www-form-urlencoded or application/json")
	}
	return in, nil
}

func (s *Server) registerAuthRoutes() {
	svc := s.authSvc
	tags := []string{"Authentication"}

	type registerRequest struct {
		Body struct {
			Email            string `json:"email" maxLength:"254" example:"test@example.com"`
			Username         string `json:"username" maxLength:"50" example:"testuser"`
			Password         string `json:"password" maxLength:"256"`
			FullName         string `json:"full_name,omitempty" maxLength:"200" example:"Test User"`
			OrganizationName string `json:"organization_name,omitempty" maxLength:"100" example:"Test Org"`
		}
	}
	register(s, huma.Operation{OperationID: "register", Method: http.MethodPost, Path: "/api/v1/auth/register", Tags: tags,
		Summary: "Create an account (and, with multi-tenancy, its organization)", DefaultStatus: http.StatusCreated,
		Errors: []int{http.StatusConflict, http.StatusUnprocessableEntity, http.StatusForbidden, http.StatusTooManyRequests}},
		Access{Public: true, RateLimited: true},
		func(ctx context.Context, in *registerRequest) (*tokenOut, error) {
			pair, err := svc.Register(ctx, auth.RegisterInput{Email: in.Body.Email, Username: in.Body.Username,
				Password: in.Body.Password, FullName: in.Body.FullName, OrganizationName: in.Body.OrganizationName}, meta(ctx))
			if err != nil {
				return nil, err
			}
			return tokenResponse(pair), nil
		})

	type loginIn struct {
		ContentType string `header:"Content-Type"`
		RawBody     []byte `contentType:"application/x-www-form-urlencoded"`
	}
	register(s, huma.Operation{OperationID: "login", Method: http.MethodPost, Path: "/api/v1/auth/login", Tags: tags,
		Summary: "Sign in: OAuth 2.0 password grant (RFC 6749 §4.3), also refresh_token grant",
		Description: "Form-encoded (`username`, `password`, optional `grant_type=password`) or the same fields as JSON. " +
			"`username` is an e-mail address or a username. Success follows RFC 6749 §5.1; bad credentials answer 400 " +
			"`invalid_grant`; a user with MFA gets 403 `mfa_required` with an `mfa_token` for /api/v1/auth/mfa/verify.",
		Errors: []int{http.StatusBadRequest, http.StatusForbidden, http.StatusTooManyRequests}},
		Access{Public: true, RateLimited: true},
		func(ctx context.Context, in *loginIn) (*tokenOut, error) {
			req, err := parseLoginBody(in.ContentType, in.RawBody)
			if err != nil {
				return nil, oauthError(http.StatusBadRequest, "invalid_request", err.Error())
			}
			var pair *auth.TokenPair
			switch req.GrantType {
			case "", "password":
				if req.Username == "" || req.Password == "" {
					return nil, oauthError(http.StatusBadRequest, "invalid_request", "username and password are required")
				}
				pair, err = svc.Login(ctx, req.Username, req.Password, meta(ctx))
			case "refresh_token":
				if req.RefreshToken == "" {
					return nil, oauthError(http.StatusBadRequest, "invalid_request", "refresh_token is required")
				}
				pair, err = svc.Refresh(ctx, req.RefreshToken, meta(ctx))
			default:
				return nil, oauthError(http.StatusBadRequest, "unsupported_grant_type", "grant_type must be password or refresh_token")
			}
			var mfa *auth.MFARequiredError
			switch {
			case errors.As(err, &mfa):
				e := oauthError(http.StatusForbidden, "mfa_required", "a second factor is required: POST the mfa_token and a code to /api/v1/auth/mfa/verify")
				e.MFAToken, e.ExpiresIn = mfa.Token, mfa.ExpiresIn
				return nil, e
			case domain.IsCode(err, domain.ECodeUnauthorized):
				return nil, oauthError(http.StatusBadRequest, "invalid_grant", err.(*domain.Error).Message)
			case err != nil:
				return nil, err
			}
			return tokenResponse(pair), nil
		})
	s.documentLoginBody()

	type mfaVerifyRequest struct {
		Body struct {
			MFAToken string `json:"mfa_token" maxLength:"128"`
			Code     string `json:"code" maxLength:"32" doc:"A TOTP code or a recovery code"`
		}
	}
	register(s, huma.Operation{OperationID: "mfa-verify", Method: http.MethodPost, Path: "/api/v1/auth/mfa/verify", Tags: tags,
		Summary: "Complete a sign-in with a second factor", Errors: []int{http.StatusTooManyRequests}},
		Access{Public: true, RateLimited: true},
		func(ctx context.Context, in *mfaVerifyRequest) (*tokenOut, error) {
			pair, err := svc.VerifyMFA(ctx, in.Body.MFAToken, in.Body.Code, meta(ctx))
			if err != nil {
				return nil, err
			}
			return tokenResponse(pair), nil
		})

	type refreshRequest struct {
		Body struct {
			RefreshToken string `json:"refresh_token" maxLength:"512"`
		}
	}
	register(s, huma.Operation{OperationID: "refresh", Method: http.MethodPost, Path: "/api/v1/auth/refresh", Tags: tags,
		Summary: "Rotate a refresh token (it works once; reuse revokes the login)", Errors: []int{http.StatusTooManyRequests}},
		Access{Public: true, RateLimited: true},
		func(ctx context.Context, in *refreshRequest) (*tokenOut, error) {
			pair, err := svc.Refresh(ctx, in.Body.RefreshToken, meta(ctx))
			if err != nil {
				return nil, err
			}
			return tokenResponse(pair), nil
		})

	type meResponse struct {
		Body struct {
			User         UserOut             `json:"user"`
			Organization OrganizationOut     `json:"organization"`
			Team         *TeamOut            `json:"team,omitempty"`
			Role         domain.Role         `json:"role"`
			Permissions  []domain.Permission `json:"permissions" doc:"Effective permissions of this request"`
			APIKeyID     string              `json:"api_key_id,omitempty"`
			SessionID    string              `json:"session_id,omitempty"`
		}
	}
	register(s, huma.Operation{OperationID: "me", Method: http.MethodGet, Path: "/api/v1/auth/me", Tags: tags,
		Summary: "The signed-in user with organization, team, role and effective permissions"},
		Access{AllowUnverified: true},
		func(ctx context.Context, _ *struct{}) (*meResponse, error) {
			p := principal(ctx)
			out := &meResponse{}
			err := s.store.Read(ctx, p.Scope(), func(q domain.Queries) error {
				u, err := q.GetUser(p.UserID)
				if err != nil {
					return err
				}
				org, err := q.GetOrganization(p.OrgID)
				if err != nil {
					return err
				}
				out.Body.User, out.Body.Organization = userOut(u), orgOut(org)
				if u.TeamID != "" {
					if t, err := q.GetTeam(u.TeamID); err == nil {
						to := teamOut(t)
						out.Body.Team = &to
					}
				}
				return nil
			})
			out.Body.Role, out.Body.Permissions = p.Role, p.Permissions.Sorted()
			out.Body.APIKeyID, out.Body.SessionID = p.APIKeyID, p.SessionID
			return out, err
		})

	register(s, huma.Operation{OperationID: "logout", Method: http.MethodPost, Path: "/api/v1/auth/logout", Tags: tags,
		Summary: "End this session: its access and refresh tokens stop working at once", DefaultStatus: http.StatusNoContent},
		Access{AllowUnverified: true},
		func(ctx context.Context, _ *struct{}) (*struct{}, error) {
			return nil, svc.Logout(ctx, principal(ctx), meta(ctx))
		})

	type sessionItem struct {
		ID         string    `json:"id"`
		CreatedAt  time.Time `json:"created_at"`
		LastUsedAt time.Time `json:"last_used_at"`
		ExpiresAt  time.Time `json:"expires_at"`
		IPAddress  string    `json:"ip_address"`
		UserAgent  string    `json:"user_agent"`
		Current    bool      `json:"current"`
	}
	type sessionsResponse struct {
		Body struct {
			Sessions   []sessionItem `json:"sessions"`
			NextCursor string        `json:"next_cursor,omitempty"`
		}
	}
	register(s, huma.Operation{OperationID: "list-sessions", Method: http.MethodGet, Path: "/api/v1/auth/sessions", Tags: tags,
		Summary: "My active sign-ins", Description: "Newest first, one page at a time: pass next_cursor as cursor for the next page."},
		Access{AllowUnverified: true},
		func(ctx context.Context, in *pageQuery) (*sessionsResponse, error) {
			p := principal(ctx)
			list, next, err := svc.Sessions(ctx, p, in.page())
			if err != nil {
				return nil, err
			}
			out := &sessionsResponse{}
			out.Body.NextCursor = next
			out.Body.Sessions = []sessionItem{}
			for _, se := range list {
				out.Body.Sessions = append(out.Body.Sessions, sessionItem{ID: se.ID, CreatedAt: se.CreatedAt, LastUsedAt: se.LastUsedAt,
					ExpiresAt: se.ExpiresAt, IPAddress: se.IPAddress, UserAgent: se.UserAgent, Current: se.ID == p.SessionID})
			}
			return out, nil
		})

	type idPath struct {
		ID string `path:"id" maxLength:"64"`
	}
	register(s, huma.Operation{OperationID: "end-session", Method: http.MethodDelete, Path: "/api/v1/auth/sessions/{id}", Tags: tags,
		Summary: "End one of my sign-ins", DefaultStatus: http.StatusNoContent}, Access{AllowUnverified: true},
		func(ctx context.Context, in *idPath) (*struct{}, error) {
			return nil, svc.EndSession(ctx, principal(ctx), in.ID, meta(ctx))
		})

	type emailTokenRequest struct {
		Body struct {
			Token string `json:"token" maxLength:"128"`
		}
	}
	register(s, huma.Operation{OperationID: "verify-email", Method: http.MethodPost, Path: "/api/v1/auth/verify-email", Tags: tags,
		Summary: "Verify an e-mail address with the token from the mail", DefaultStatus: http.StatusNoContent,
		Errors: []int{http.StatusTooManyRequests}}, Access{Public: true, RateLimited: true},
		func(ctx context.Context, in *emailTokenRequest) (*struct{}, error) {
			return nil, svc.VerifyEmail(ctx, in.Body.Token, meta(ctx))
		})
	register(s, huma.Operation{OperationID: "resend-verification", Method: http.MethodPost, Path: "/api/v1/auth/verify-email/resend",
		Tags: tags, Summary: "Send a new verification mail", DefaultStatus: http.StatusAccepted}, Access{AllowUnverified: true},
		func(ctx context.Context, _ *struct{}) (*struct{}, error) {
			return nil, svc.ResendVerification(ctx, principal(ctx), meta(ctx))
		})

	type forgotRequest struct {
		Body struct {
			Email string `json:"email" maxLength:"254"`
		}
	}
	register(s, huma.Operation{OperationID: "forgot-password", Method: http.MethodPost, Path: "/api/v1/auth/password/forgot", Tags: tags,
		Summary: "Ask for a password-reset mail", Description: "Always 202: the answer reveals nothing about which addresses have accounts.",
		DefaultStatus: http.StatusAccepted, Errors: []int{http.StatusTooManyRequests}}, Access{Public: true, RateLimited: true},
		func(ctx context.Context, in *forgotRequest) (*struct{}, error) {
			if err := svc.ForgotPassword(ctx, in.Body.Email, meta(ctx)); err != nil {
				s.log.ErrorContext(ctx, "password reset request not queued", "error", err, "request_id", requestIDFrom(ctx))
			}
			return nil, nil
		})

	type resetRequest struct {
		Body struct {
			Token    string `json:"token" maxLength:"128"`
			Password string `json:"password" maxLength:"256"`
		}
	}
	register(s, huma.Operation{OperationID: "reset-password", Method: http.MethodPost, Path: "/api/v1/auth/password/reset", Tags: tags,
		Summary: "Set a new password with the token from the reset mail", DefaultStatus: http.StatusNoContent,
		Errors: []int{http.StatusTooManyRequests}}, Access{Public: true, RateLimited: true},
		func(ctx context.Context, in *resetRequest) (*struct{}, error) {
			return nil, svc.ResetPassword(ctx, in.Body.Token, in.Body.Password, meta(ctx))
		})

	type changePasswordRequest struct {
		Body struct {
			CurrentPassword string `json:"current_password" maxLength:"256"`
			NewPassword     string `json:"new_password" maxLength:"256"`
		}
	}
	register(s, huma.Operation{OperationID: "change-password", Method: http.MethodPost, Path: "/api/v1/auth/password/change", Tags: tags,
		Summary: "Change my password; every session ends and a new token pair is returned"}, Access{AllowUnverified: true},
		func(ctx context.Context, in *changePasswordRequest) (*tokenOut, error) {
			pair, err := svc.ChangePassword(ctx, principal(ctx), in.Body.CurrentPassword, in.Body.NewPassword, meta(ctx))
			if err != nil {
				return nil, err
			}
			return tokenResponse(pair), nil
		})

	type mfaEnrollResponse struct {
		Body struct {
			Secret     string `json:"secret" doc:"Base32 TOTP secret, for manual entry"`
			OTPAuthURI string `json:"otpauth_uri"`
			QRCodePNG  string `json:"qr_code_png" doc:"Base64-encoded PNG of the otpauth URI"`
		}
	}
	register(s, huma.Operation{OperationID: "mfa-enroll", Method: http.MethodPost, Path: "/api/v1/auth/mfa/enroll", Tags: tags,
		Summary: "Start TOTP enrolment"}, Access{AllowUnverified: true},
		func(ctx context.Context, _ *struct{}) (*mfaEnrollResponse, error) {
			e, err := svc.EnrollMFA(ctx, principal(ctx), meta(ctx))
			if err != nil {
				return nil, err
			}
			out := &mfaEnrollResponse{}
			out.Body.Secret, out.Body.OTPAuthURI, out.Body.QRCodePNG = e.Secret, e.OTPAuthURI, e.QRCodePNG
			return out, nil
		})
	type mfaCodeRequest struct {
		Body struct {
			Code string `json:"code" maxLength:"32"`
		}
	}
	type recoveryCodesResponse struct {
		Body struct {
			RecoveryCodes []string `json:"recovery_codes" doc:"One-time codes; shown only now"`
		}
	}
	register(s, huma.Operation{OperationID: "mfa-confirm", Method: http.MethodPost, Path: "/api/v1/auth/mfa/confirm", Tags: tags,
		Summary: "Confirm TOTP enrolment with a code; returns recovery codes"}, Access{AllowUnverified: true},
		func(ctx context.Context, in *mfaCodeRequest) (*recoveryCodesResponse, error) {
			codes, err := svc.ConfirmMFA(ctx, principal(ctx), in.Body.Code, meta(ctx))
			if err != nil {
				return nil, err
			}
			out := &recoveryCodesResponse{}
			out.Body.RecoveryCodes = codes
			return out, nil
		})
	type mfaDisableRequest struct {
		Body struct {
			Password string `json:"password" maxLength:"256"`
			Code     string `json:"code" maxLength:"32"`
		}
	}
	register(s, huma.Operation{OperationID: "mfa-disable", Method: http.MethodPost, Path: "/api/v1/auth/mfa/disable", Tags: tags,
		Summary: "Turn MFA off (password and a current code required)", DefaultStatus: http.StatusNoContent},
		Access{AllowUnverified: true},
		func(ctx context.Context, in *mfaDisableRequest) (*struct{}, error) {
			return nil, svc.DisableMFA(ctx, principal(ctx), in.Body.Password, in.Body.Code, meta(ctx))
		})

	s.registerAPIKeyRoutes()
}

// documentLoginBody declares both accepted encodings of the login body in
// the OpenAPI document (the handler parses the raw body itself).
func (s *Server) documentLoginBody() {
	path := s.api.OpenAPI().Paths["/api/v1/auth/login"]
	if path == nil || path.Post == nil {
		return
	}
	props := map[string]*huma.Schema{
		"grant_type":    {Type: "string", Enum: []any{"password", "refresh_token"}, Description: "password (default) or refresh_token"},
		"username":      {Type: "string", MaxLength: ptrInt(320), Description: "E-mail address or username"},
		"password":      {Type: "string", MaxLength: ptrInt(256), Format: "password"},
		"refresh_token": {Type: "string", MaxLength: ptrInt(512)},
		"scope":         {Type: "string", Description: "Ignored"},
	}
	schema := &huma.Schema{Type: "object", Properties: props}
	path.Post.RequestBody = &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
		"application/x-www-form-urlencoded": {Schema: schema},
		"application/json":                  {Schema: schema},
	}}
}

func ptrInt(i int) *int { return &i }

// APIKeyOut is an API key without its secret.
type APIKeyOut struct {
	ID          string              `json:"id"`
	Name        string              `json:"name"`
	Prefix      string              `json:"prefix" doc:"The first characters of the key, for recognition"`
	Role        domain.Role         `json:"role"`
	Permissions []domain.Permission `json:"permissions"`
	CreatedBy   string              `json:"created_by"`
	CreatedAt   time.Time           `json:"created_at"`
	ExpiresAt   *time.Time          `json:"expires_at,omitempty"`
	LastUsedAt  *time.Time          `json:"last_used_at,omitempty"`
	RevokedAt   *time.Time          `json:"revoked_at,omitempty"`
}

func apiKeyOut(k *domain.APIKey) APIKeyOut {
	perms := k.Permissions
	if perms == nil {
		perms = []domain.Permission{}
	}
	return APIKeyOut{ID: k.ID, Name: k.Name, Prefix: k.Prefix, Role: k.Role, Permissions: perms, CreatedBy: k.CreatedBy,
		CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt}
}

func (s *Server) registerAPIKeyRoutes() {
	svc := s.authSvc
	tags := []string{"API keys"}
	type apiKeyCreateRequest struct {
		Body struct {
			Name        string              `json:"name" maxLength:"100"`
			Role        domain.Role         `json:"role,omitempty" enum:"admin,developer,operator,viewer" doc:"Grant a role's permissions (default: yours)"`
			Permissions []domain.Permission `json:"permissions,omitempty" maxItems:"50" doc:"Or grant exactly these permissions"`
			ExpiresAt   *time.Time          `json:"expires_at,omitempty"`
		}
	}
	type apiKeyCreateResponse struct {
		Body struct {
			APIKeyOut
			Key string `json:"key" doc:"The secret: shown only now. Use as Authorization: Bearer <key> or X-API-Key."`
		}
	}
	register(s, huma.Operation{OperationID: "create-api-key", Method: http.MethodPost, Path: "/api/v1/api-keys", Tags: tags,
		Summary: "Create an API key", DefaultStatus: http.StatusCreated}, Requires(domain.PermAPIKeysManage),
		func(ctx context.Context, in *apiKeyCreateRequest) (*apiKeyCreateResponse, error) {
			k, secret, err := svc.CreateAPIKey(ctx, principal(ctx), auth.APIKeyInput{Name: in.Body.Name, Role: in.Body.Role,
				Permissions: in.Body.Permissions, ExpiresAt: in.Body.ExpiresAt}, meta(ctx))
			if err != nil {
				return nil, err
			}
			out := &apiKeyCreateResponse{}
			out.Body.APIKeyOut, out.Body.Key = apiKeyOut(k), secret
			return out, nil
		})
	type apiKeyListRequest struct {
		Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50"`
		Cursor string `query:"cursor" maxLength:"200"`
	}
	type apiKeyListResponse struct {
		Body struct {
			APIKeys    []APIKeyOut `json:"api_keys"`
			NextCursor string      `json:"next_cursor,omitempty"`
		}
	}
	register(s, huma.Operation{OperationID: "list-api-keys", Method: http.MethodGet, Path: "/api/v1/api-keys", Tags: tags,
		Summary: "List API keys (admins: the organization's; others: their own)"}, Requires(domain.PermAPIKeysManage),
		func(ctx context.Context, in *apiKeyListRequest) (*apiKeyListResponse, error) {
			keys, next, err := svc.APIKeys(ctx, principal(ctx), domain.Page{Limit: in.Limit, Cursor: in.Cursor})
			if err != nil {
				return nil, err
			}
			out := &apiKeyListResponse{}
			out.Body.APIKeys, out.Body.NextCursor = []APIKeyOut{}, next
			for i := range keys {
				out.Body.APIKeys = append(out.Body.APIKeys, apiKeyOut(&keys[i]))
			}
			return out, nil
		})
	type idPath struct {
		ID string `path:"id" maxLength:"64"`
	}
	register(s, huma.Operation{OperationID: "revoke-api-key", Method: http.MethodDelete, Path: "/api/v1/api-keys/{id}", Tags: tags,
		Summary: "Revoke an API key", DefaultStatus: http.StatusNoContent}, Requires(domain.PermAPIKeysManage),
		func(ctx context.Context, in *idPath) (*struct{}, error) {
			return nil, svc.RevokeAPIKey(ctx, principal(ctx), in.ID, meta(ctx))
		})
}
