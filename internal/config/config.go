// Package config loads Super Agent's settings once, from the process
// environment and an optional .env file, into one typed Config, and
// validates them. Config is the single home of every setting; .env.example
// and the README's settings table document each one.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/joho/godotenv"
)

// Environments.
const (
	EnvDevelopment = "development"
	EnvStaging     = "staging"
	EnvProduction  = "production"
	EnvTest        = "test"
)

// ExampleSecretKey is the placeholder in .env.example; production refuses it.
const ExampleSecretKey = "change-me-to-a-long-random-string-of-at-least-32-bytes"

// Config holds every setting. Field tags name the environment variable and
// its default.
type Config struct {
	Environment string `env:"ENVIRONMENT" envDefault:"development"`
	Debug       bool   `env:"DEBUG" envDefault:"false"`

	Host            string   `env:"HOST" envDefault:"127.0.0.1"`
	Port            int      `env:"PORT" envDefault:"8000"`
	WorkerProbePort *int     `env:"WORKER_PROBE_PORT"` // `superagent worker`'s /health, /ready, /metrics on HOST; unset: none, 0: a free port
	PublicURL       string   `env:"PUBLIC_URL"`        // base URL used in e-mailed links; default http://HOST:PORT
	TrustedProxies  []string `env:"TRUSTED_PROXIES" envSeparator:","`
	CORSOrigins     []string `env:"CORS_ORIGINS" envSeparator:"," envDefault:"http://localhost:3000,http://localhost:5173"`
	BodyLimitBytes  int64    `env:"REQUEST_BODY_LIMIT_BYTES" envDefault:"1048576"`
	LogLevel        string   `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat       string   `env:"LOG_FORMAT"` // json or text; default json in production, text otherwise

	DatabaseURL         string `env:"DATABASE_URL" envDefault:"sqlite://data/superagent.db"`
	DatabaseMigrateURL  string `env:"DATABASE_MIGRATE_URL"` // owner role for migrations (PostgreSQL); default DATABASE_URL
	DatabasePoolSize    int    `env:"DATABASE_POOL_SIZE" envDefault:"10"`
	DatabaseMaxOverflow int    `env:"DATABASE_MAX_OVERFLOW" envDefault:"5"`
	AutoMigrate         *bool  `env:"AUTO_MIGRATE"` // default: on except in production

	SecretKey                string   `env:"SECRET_KEY"`
	Algorithm                string   `env:"ALGORITHM" envDefault:"HS256"`
	AccessTokenExpireMinutes int      `env:"ACCESS_TOKEN_EXPIRE_MINUTES" envDefault:"30"`
	RefreshTokenExpireDays   int      `env:"REFRESH_TOKEN_EXPIRE_DAYS" envDefault:"7"`
	TokenIssuer              string   `env:"TOKEN_ISSUER" envDefault:"superagent"`
	TokenAudience            string   `env:"TOKEN_AUDIENCE" envDefault:"superagent-api"`
	SignupEnabled            bool     `env:"SIGNUP_ENABLED" envDefault:"true"`
	RequireEmailVerification bool     `env:"REQUIRE_EMAIL_VERIFICATION" envDefault:"false"`
	PasswordHashProfile      string   `env:"PASSWORD_HASH_PROFILE" envDefault:"default"` // default or test
	PasswordHashHelpers      bool     `env:"PASSWORD_HASH_HELPERS" envDefault:"true"`    // hash in helper processes
	EncryptionKeys           string   `env:"ENCRYPTION_KEYS"`                            // "id:base64key,…", first is primary
	AuthRateLimitPerMinute   int      `env:"AUTH_RATE_LIMIT_PER_MINUTE" envDefault:"20"`
	APIRateLimitPerMinute    int      `env:"API_RATE_LIMIT_PER_MINUTE" envDefault:"600"`
	DevUserEmail             string   `env:"DEV_USER_EMAIL" envDefault:"dev@localhost"`
	ExtraAllowedHosts        []string `env:"HTTP_ALLOWED_HOSTS" envSeparator:","`

	SMTPHost     string `env:"SMTP_HOST"`
	SMTPPort     int    `env:"SMTP_PORT"` // 0: 587 for starttls, 465 for tls, 25 for none
	SMTPUsername string `env:"SMTP_USERNAME"`
	SMTPPassword string `env:"SMTP_PASSWORD"`
	SMTPFrom     string `env:"SMTP_FROM" envDefault:"Super Agent <no-reply@localhost>"`
	SMTPTLS      string `env:"SMTP_TLS" envDefault:"starttls"` // starttls, tls or none

	OpenAIAPIKey             string `env:"OPENAI_API_KEY"`
	OpenAIBaseURL            string `env:"OPENAI_BASE_URL"`
	AnthropicAPIKey          string `env:"ANTHROPIC_API_KEY"`
	AnthropicBaseURL         string `env:"ANTHROPIC_BASE_URL"`
	AllowInstallationLLMKeys bool   `env:"ALLOW_INSTALLATION_LLM_KEYS" envDefault:"false"`
	LLMPrices                string `env:"LLM_PRICES"` // JSON price overrides, USD per million tokens

	VaultEnabled bool   `env:"VAULT_ENABLED" envDefault:"false"`
	VaultURL     string `env:"VAULT_URL"`
	VaultToken   string `env:"VAULT_TOKEN"`
	VaultMount   string `env:"VAULT_MOUNT" envDefault:"secret"`
	VaultPrefix  string `env:"VAULT_PATH_PREFIX" envDefault:"superagent"`

	SentryDSN     string `env:"SENTRY_DSN"`
	SentryEnabled bool   `env:"SENTRY_ENABLED" envDefault:"false"`

	MetricsEnabled *bool  `env:"METRICS_ENABLED"` // default: on except in production
	MetricsToken   string `env:"METRICS_TOKEN"`   // bearer token /metrics requires; required in production

	EnableAuth         bool `env:"ENABLE_AUTH" envDefault:"true"`
	EnableMultiTenancy bool `env:"ENABLE_MULTI_TENANCY" envDefault:"true"`
	EnableAuditLogging bool `env:"ENABLE_AUDIT_LOGGING" envDefault:"true"`
	AuditRetentionDays int  `env:"AUDIT_RETENTION_DAYS" envDefault:"365"`

	MaxWorkflowExecutionsPerHour int           `env:"MAX_WORKFLOW_EXECUTIONS_PER_HOUR" envDefault:"1000"`
	MaxAgentsPerWorkflow         int           `env:"MAX_AGENTS_PER_WORKFLOW" envDefault:"50"`
	QueueMaxWorkers              int           `env:"QUEUE_MAX_WORKERS"`    // default chosen per database
	QueueFetchCooldown           time.Duration `env:"QUEUE_FETCH_COOLDOWN"` // step queue; 0: River's (100ms) on PostgreSQL, 10ms on SQLite
	RescueAfter                  time.Duration `env:"RESCUE_AFTER" envDefault:"10m"`
	ExecutionTimeout             time.Duration `env:"EXECUTION_TIMEOUT" envDefault:"1h"`
	ShutdownTimeout              time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"20s"`
	ScheduleMissedRuns           string        `env:"SCHEDULE_MISSED_RUNS" envDefault:"skip"` // skip or run_once
}

// Load reads the .env file at dotenvPath (when it exists; values already in
// environ win) and then environ, and validates the result. environ is a list
// of KEY=VALUE strings, normally os.Environ().
func Load(environ []string, dotenvPath string) (*Config, error) {
	vars := map[string]string{}
	if dotenvPath != "" {
		file, err := godotenv.Read(dotenvPath)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("read %s: %w", dotenvPath, err)
		}
		for k, v := range file {
			vars[k] = v
		}
	}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	var c Config
	if err := env.ParseWithOptions(&c, env.Options{Environment: vars}); err != nil {
		return nil, fmt.Errorf("settings: %w", err)
	}
	c.normalize()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Config) normalize() {
	c.Environment = strings.ToLower(strings.TrimSpace(c.Environment))
	if c.LogFormat == "" {
		c.LogFormat = "text"
		if c.IsProduction() {
			c.LogFormat = "json"
		}
	}
	if c.PublicURL == "" {
		c.PublicURL = fmt.Sprintf("http://%s", net.JoinHostPort(c.Host, fmt.Sprint(c.Port)))
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.AutoMigrate == nil {
		v := !c.IsProduction()
		c.AutoMigrate = &v
	}
	if c.MetricsEnabled == nil {
		v := !c.IsProduction()
		c.MetricsEnabled = &v
	}
	c.Algorithm = strings.ToUpper(strings.TrimSpace(c.Algorithm))
	if c.SecretKey == "" && !c.IsProduction() {
		// Development and tests run with no setup: a fixed, clearly labelled
		// key. Production refuses to start without a real one.
		c.SecretKey = "development-only-secret-key-do-not-use-in-production"
	}
}

// IsProduction reports whether the installation runs in production.
func (c *Config) IsProduction() bool { return c.Environment == EnvProduction }

// Addr is the HTTP listen address.
func (c *Config) Addr() string { return net.JoinHostPort(c.Host, fmt.Sprint(c.Port)) }

// SettingError names the setting that failed validation.
type SettingError struct {
	Setting string
	Problem string
}

func (e *SettingError) Error() string { return e.Setting + ": " + e.Problem }

// Validate checks every setting; the first problem is returned as a
// *SettingError naming the setting.
func (c *Config) Validate() error {
	bad := func(setting, format string, args ...any) error {
		return &SettingError{Setting: setting, Problem: fmt.Sprintf(format, args...)}
	}
	switch c.Environment {
	case EnvDevelopment, EnvStaging, EnvProduction, EnvTest:
	default:
		return bad("ENVIRONMENT", "must be development, staging, production or test, not %q", c.Environment)
	}
	if c.Port < 0 || c.Port > 65535 {
		return bad("PORT", "must be between 0 and 65535")
	}
	if p := c.WorkerProbePort; p != nil && (*p < 0 || *p > 65535) {
		return bad("WORKER_PROBE_PORT", "must be between 0 and 65535")
	}
	if _, err := ParseDatabaseURL(c.DatabaseURL); err != nil {
		return bad("DATABASE_URL", "%v", err)
	}
	if c.DatabaseMigrateURL != "" {
		mu, err := ParseDatabaseURL(c.DatabaseMigrateURL)
		if err != nil {
			return bad("DATABASE_MIGRATE_URL", "%v", err)
		}
		du, _ := ParseDatabaseURL(c.DatabaseURL)
		if mu.Kind != du.Kind {
			return bad("DATABASE_MIGRATE_URL", "must name the same kind of database as DATABASE_URL")
		}
	}
	if c.DatabasePoolSize < 1 || c.DatabasePoolSize > 500 {
		return bad("DATABASE_POOL_SIZE", "must be between 1 and 500")
	}
	if c.DatabaseMaxOverflow < 0 || c.DatabaseMaxOverflow > 500 {
		return bad("DATABASE_MAX_OVERFLOW", "must be between 0 and 500")
	}
	switch c.Algorithm {
	case "HS256", "HS384", "HS512":
	default:
		return bad("ALGORITHM", "must be HS256, HS384 or HS512, not %q", c.Algorithm)
	}
	if c.AccessTokenExpireMinutes < 1 || c.AccessTokenExpireMinutes > 24*60 {
		return bad("ACCESS_TOKEN_EXPIRE_MINUTES", "must be between 1 and 1440")
	}
	if c.RefreshTokenExpireDays < 1 || c.RefreshTokenExpireDays > 365 {
		return bad("REFRESH_TOKEN_EXPIRE_DAYS", "must be between 1 and 365")
	}
	if c.BodyLimitBytes < 1024 || c.BodyLimitBytes > 64<<20 {
		return bad("REQUEST_BODY_LIMIT_BYTES", "must be between 1 KiB and 64 MiB")
	}
	switch c.LogFormat {
	case "json", "text":
	default:
		return bad("LOG_FORMAT", "must be json or text")
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		return bad("LOG_LEVEL", "must be debug, info, warn or error")
	}
	for _, p := range c.TrustedProxies {
		if _, err := ParseCIDROrIP(p); err != nil {
			return bad("TRUSTED_PROXIES", "%q is neither an IP address nor a CIDR range", p)
		}
	}
	for _, o := range c.CORSOrigins {
		if o == "*" {
			return bad("CORS_ORIGINS", "a wildcard is refused: list the origins allowed to call the API with credentials")
		}
		if u, err := url.Parse(o); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return bad("CORS_ORIGINS", "%q is not an origin such as https://app.example.com", o)
		}
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return bad("PUBLIC_URL", "must be an http(s) URL")
	}
	switch c.PasswordHashProfile {
	case "default", "test":
	default:
		return bad("PASSWORD_HASH_PROFILE", "must be default or test")
	}
	switch c.SMTPTLS {
	case "starttls", "tls", "none":
	default:
		return bad("SMTP_TLS", "must be starttls, tls or none")
	}
	switch c.ScheduleMissedRuns {
	case "skip", "run_once":
	default:
		return bad("SCHEDULE_MISSED_RUNS", "must be skip or run_once")
	}
	if c.MaxWorkflowExecutionsPerHour < 1 {
		return bad("MAX_WORKFLOW_EXECUTIONS_PER_HOUR", "must be at least 1")
	}
	if c.MaxAgentsPerWorkflow < 1 || c.MaxAgentsPerWorkflow > 1000 {
		return bad("MAX_AGENTS_PER_WORKFLOW", "must be between 1 and 1000")
	}
	if c.QueueMaxWorkers < 0 || c.QueueMaxWorkers > 10000 {
		return bad("QUEUE_MAX_WORKERS", "must be between 1 and 10000 (0 chooses per database)")
	}
	if c.QueueFetchCooldown != 0 && (c.QueueFetchCooldown < time.Millisecond || c.QueueFetchCooldown > time.Second) {
		return bad("QUEUE_FETCH_COOLDOWN", "must be between 1ms and 1s (0 chooses per database)")
	}
	if c.RescueAfter < 10*time.Second {
		return bad("RESCUE_AFTER", "must be at least 10s (steps time out below it)")
	}
	if c.ExecutionTimeout < time.Second || c.ExecutionTimeout > 7*24*time.Hour {
		return bad("EXECUTION_TIMEOUT", "must be between 1s and 168h")
	}
	if c.AuditRetentionDays < 1 {
		return bad("AUDIT_RETENTION_DAYS", "must be at least 1")
	}
	if c.AuthRateLimitPerMinute < 1 || c.APIRateLimitPerMinute < 1 {
		return bad("AUTH_RATE_LIMIT_PER_MINUTE", "rate limits must be at least 1 per minute")
	}
	if c.VaultEnabled {
		if u, err := url.Parse(c.VaultURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return bad("VAULT_URL", "must be an http(s) URL when VAULT_ENABLED is true")
		}
		if c.VaultToken == "" {
			return bad("VAULT_TOKEN", "is required when VAULT_ENABLED is true")
		}
	}
	if c.SentryEnabled {
		if c.SentryDSN == "" {
			return bad("SENTRY_DSN", "is required when SENTRY_ENABLED is true")
		}
		if err := checkSentryDSN(c.SentryDSN); err != nil {
			return bad("SENTRY_DSN", "%v", err)
		}
	}
	if c.MetricsToken != "" && len(c.MetricsToken) < 16 {
		return bad("METRICS_TOKEN", "must be at least 16 bytes (e.g. `openssl rand -hex 24`)")
	}
	if c.IsProduction() {
		switch {
		case c.SecretKey == "":
			return bad("SECRET_KEY", "is required in production")
		case len(c.SecretKey) < 32:
			return bad("SECRET_KEY", "must be at least 32 bytes in production")
		case c.SecretKey == ExampleSecretKey:
			return bad("SECRET_KEY", "is still the example value from .env.example")
		case c.Debug:
			return bad("DEBUG", "must be off in production")
		case !c.EnableAuth:
			return bad("ENABLE_AUTH", "cannot be false in production")
		case !c.EnableAuditLogging:
			return bad("ENABLE_AUDIT_LOGGING", "cannot be false in production")
		case c.PasswordHashProfile != "default":
			return bad("PASSWORD_HASH_PROFILE", "the test profile is refused in production")
		case c.EncryptionKeys == "":
			return bad("ENCRYPTION_KEYS", "is required in production (AES-256 keys for secrets at rest)")
		case c.SMTPHost == "":
			return bad("SMTP_HOST", "is required in production: without it password-reset and invitation links would only be logged")
		case *c.MetricsEnabled && c.MetricsToken == "":
			return bad("METRICS_TOKEN", "is required in production while METRICS_ENABLED is true: /metrics answers only requests bearing it")
		}
	}
	return nil
}

// DatabaseKind is "sqlite" or "postgres".
type DatabaseKind string

// Database kinds.
const (
	SQLite   DatabaseKind = "sqlite"
	Postgres DatabaseKind = "postgres"
)

// DatabaseURL is a parsed DATABASE_URL.
type DatabaseURL struct {
	Kind DatabaseKind
	// Path is the SQLite file path (absolute or relative to the working directory).
	Path string
	// DSN is the PostgreSQL connection string.
	DSN string
}

// ParseDatabaseURL accepts sqlite://PATH (everything after the scheme is a
// file path; sqlite:///abs/path is absolute) and postgres:// or postgresql://
// URLs.
func ParseDatabaseURL(raw string) (DatabaseURL, error) {
	raw = strings.TrimSpace(raw)
	switch {
	case raw == "":
		return DatabaseURL{}, errors.New("is empty")
	case strings.HasPrefix(raw, "sqlite://"):
		p := strings.TrimPrefix(raw, "sqlite://")
		if p == "" {
			return DatabaseURL{}, errors.New("sqlite:// needs a file path, e.g. sqlite://data/superagent.db")
		}
		if strings.ContainsAny(p, "?#") {
			return DatabaseURL{}, errors.New("sqlite:// takes a plain file path without ? or # (PRAGMAs are set by Super Agent)")
		}
		return DatabaseURL{Kind: SQLite, Path: filepath.Clean(p)}, nil
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		u, err := url.Parse(raw)
		if err != nil {
			return DatabaseURL{}, fmt.Errorf("is not a valid URL: %s", redactURLError(err))
		}
		if u.Host == "" {
			return DatabaseURL{}, errors.New("postgres URL needs a host, e.g. postgres://user@127.0.0.1:5432/superagent")
		}
		if strings.Trim(u.Path, "/") == "" {
			return DatabaseURL{}, errors.New("postgres URL needs a database name, e.g. postgres://user@127.0.0.1:5432/superagent")
		}
		return DatabaseURL{Kind: Postgres, DSN: raw}, nil
	default:
		return DatabaseURL{}, errors.New("must start with sqlite:// or postgres://")
	}
}

// checkSentryDSN checks the shape of a Sentry DSN,
// https://PUBLIC_KEY@HOST[/PATH]/PROJECT_ID, without repeating it (it holds
// the key).
func checkSentryDSN(dsn string) error {
	u, err := url.Parse(dsn)
	switch {
	case err != nil:
		return fmt.Errorf("is not a valid URL: %s", redactURLError(err))
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("must be an http(s) URL such as https://KEY@o0.ingest.sentry.io/123")
	case u.User == nil || u.User.Username() == "":
		return errors.New("needs the public key before the @, as Sentry's DSN has it")
	case u.Host == "":
		return errors.New("needs a host")
	}
	project := u.Path[strings.LastIndex(u.Path, "/")+1:]
	if project == "" || strings.Trim(project, "0123456789") != "" {
		return errors.New("must end with the numeric project id")
	}
	return nil
}

// redactURLError keeps url.Parse's reason but drops the URL, which may hold a password.
func redactURLError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return "malformed"
}

// Redacted returns the database location without credentials, for banners and logs.
func (d DatabaseURL) Redacted() string {
	if d.Kind == SQLite {
		return "sqlite://" + d.Path
	}
	u, err := url.Parse(d.DSN)
	if err != nil {
		return "postgres://(unparseable)"
	}
	if u.User != nil {
		u.User = url.User(u.User.Username()) // keep the role, drop the password
	}
	q := u.Query()
	for k := range q {
		if strings.Contains(strings.ToLower(k), "password") {
			q.Set(k, "redacted")
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// ParseCIDROrIP parses a CIDR range or a single IP (as a /32 or /128).
func ParseCIDROrIP(s string) (*net.IPNet, error) {
	s = strings.TrimSpace(s)
	if _, n, err := net.ParseCIDR(s); err == nil {
		return n, nil
	}
	ip := net.ParseIP(s)
	if ip == nil {
		return nil, fmt.Errorf("invalid IP or CIDR %q", s)
	}
	bits := 128
	if ip.To4() != nil {
		ip, bits = ip.To4(), 32
	}
	return &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)}, nil
}
