package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	c, err := Load(nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr() != "127.0.0.1:8000" {
		t.Errorf("Addr = %q", c.Addr())
	}
	d, err := ParseDatabaseURL(c.DatabaseURL)
	if err != nil || d.Kind != SQLite || d.Path != filepath.Join("data", "superagent.db") {
		t.Errorf("database = %+v, %v", d, err)
	}
	if !*c.AutoMigrate || c.LogFormat != "text" || !c.EnableAuth || !c.EnableAuditLogging {
		t.Errorf("unexpected development defaults: %+v", c)
	}
}

func TestDotenvAndEnvironmentPrecedence(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, ".env")
	if err := os.WriteFile(path, []byte("PORT=9000\nDEBUG=true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load([]string{"PORT=9100"}, path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 9100 || !c.Debug {
		t.Errorf("port %d debug %v: the environment must win over .env, and .env must apply", c.Port, c.Debug)
	}
}

// TestWorkerProbePort: unset and empty (as .env.example has it) serve no
// probes; 0 is a port of its own (a free one).
func TestWorkerProbePort(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, ".env")
	if err := os.WriteFile(path, []byte("WORKER_PROBE_PORT=\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		env  []string
		file string
		want string
	}{
		{nil, "", "none"},
		{nil, path, "none"},
		{[]string{"WORKER_PROBE_PORT=0"}, "", "0"},
		{[]string{"WORKER_PROBE_PORT=9102"}, path, "9102"},
	} {
		c, err := Load(tt.env, tt.file)
		if err != nil {
			t.Fatalf("%v %q: %v", tt.env, tt.file, err)
		}
		got := "none"
		if c.WorkerProbePort != nil {
			got = strconv.Itoa(*c.WorkerProbePort)
		}
		if got != tt.want {
			t.Errorf("%v %q: probe port %s, want %s", tt.env, tt.file, got, tt.want)
		}
	}
}

func TestValidationNamesTheSetting(t *testing.T) {
	t.Parallel()
	prod := []string{"ENVIRONMENT=production", "SECRET_KEY=" + strings.Repeat("k", 40), "ENCRYPTION_KEYS=k1:x", "SMTP_HOST=mail.example.com"}
	tests := []struct {
		name    string
		env     []string
		setting string
	}{
		{"production without secret", []string{"ENVIRONMENT=production"}, "SECRET_KEY"},
		{"production short secret", []string{"ENVIRONMENT=production", "SECRET_KEY=short"}, "SECRET_KEY"},
		{"production example secret", []string{"ENVIRONMENT=production", "SECRET_KEY=" + ExampleSecretKey}, "SECRET_KEY"},
		{"production debug", append(prod, "DEBUG=true"), "DEBUG"},
		{"production auth off", append(prod, "ENABLE_AUTH=false"), "ENABLE_AUTH"},
		{"production audit off", append(prod, "ENABLE_AUDIT_LOGGING=false"), "ENABLE_AUDIT_LOGGING"},
		{"production test hashing", append(prod, "PASSWORD_HASH_PROFILE=test"), "PASSWORD_HASH_PROFILE"},
		{"production without mail", prod[:3], "SMTP_HOST"},
		{"unknown environment", []string{"ENVIRONMENT=prod"}, "ENVIRONMENT"},
		{"malformed database url", []string{"DATABASE_URL=mysql://x"}, "DATABASE_URL"},
		{"postgres url without host", []string{"DATABASE_URL=postgres:///db"}, "DATABASE_URL"},
		{"postgres url with bad escape", []string{"DATABASE_URL=postgres://u:p%zz@h/db"}, "DATABASE_URL"},
		{"sqlite without path", []string{"DATABASE_URL=sqlite://"}, "DATABASE_URL"},
		{"alg none", []string{"ALGORITHM=none"}, "ALGORITHM"},
		{"alg RS256", []string{"ALGORITHM=RS256"}, "ALGORITHM"},
		{"bad proxy", []string{"TRUSTED_PROXIES=10.0.0.0/8,not-an-ip"}, "TRUSTED_PROXIES"},
		{"cors wildcard", []string{"CORS_ORIGINS=*"}, "CORS_ORIGINS"},
		{"vault without token", []string{"VAULT_ENABLED=true", "VAULT_URL=http://127.0.0.1:8200"}, "VAULT_TOKEN"},
		{"pool size zero", []string{"DATABASE_POOL_SIZE=0"}, "DATABASE_POOL_SIZE"},
		{"negative probe port", []string{"WORKER_PROBE_PORT=-1"}, "WORKER_PROBE_PORT"},
		{"probe port out of range", []string{"WORKER_PROBE_PORT=65536"}, "WORKER_PROBE_PORT"},
		{"fetch cooldown too long", []string{"QUEUE_FETCH_COOLDOWN=5s"}, "QUEUE_FETCH_COOLDOWN"},
		{"fetch cooldown below a millisecond", []string{"QUEUE_FETCH_COOLDOWN=100us"}, "QUEUE_FETCH_COOLDOWN"},
		{"production metrics without token", append(prod, "METRICS_ENABLED=true"), "METRICS_TOKEN"},
		{"short metrics token", []string{"METRICS_TOKEN=short"}, "METRICS_TOKEN"},
		{"sentry without dsn", []string{"SENTRY_ENABLED=true"}, "SENTRY_DSN"},
		{"sentry dsn without key", []string{"SENTRY_ENABLED=true", "SENTRY_DSN=https://o1.ingest.example/42"}, "SENTRY_DSN"},
		{"sentry dsn without project", []string{"SENTRY_ENABLED=true", "SENTRY_DSN=https://key@o1.ingest.example/"}, "SENTRY_DSN"},
		{"sentry dsn of another scheme", []string{"SENTRY_ENABLED=true", "SENTRY_DSN=ftp://key@o1.ingest.example/42"}, "SENTRY_DSN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(tt.env, "")
			var se *SettingError
			if !errors.As(err, &se) || se.Setting != tt.setting {
				t.Fatalf("err = %v, want a problem with %s", err, tt.setting)
			}
			if strings.Contains(err.Error(), "p%zz") {
				t.Errorf("error repeats the URL: %v", err)
			}
		})
	}
}

func TestProductionAcceptsAGoodConfiguration(t *testing.T) {
	t.Parallel()
	c, err := Load([]string{"ENVIRONMENT=production", "SECRET_KEY=" + strings.Repeat("s", 32), "ENCRYPTION_KEYS=k1:x", "SMTP_HOST=mail.example.com"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if *c.AutoMigrate || c.LogFormat != "json" {
		t.Errorf("production defaults: automigrate %v, log format %s", *c.AutoMigrate, c.LogFormat)
	}
}

func TestMetricsDefaults(t *testing.T) {
	t.Parallel()
	prod := []string{"ENVIRONMENT=production", "SECRET_KEY=" + strings.Repeat("s", 32), "ENCRYPTION_KEYS=k1:x", "SMTP_HOST=mail.example.com"}
	tests := []struct {
		name    string
		env     []string
		enabled bool
	}{
		{"development serves metrics", nil, true},
		{"development may turn them off", []string{"METRICS_ENABLED=false"}, false},
		{"production keeps them off by default", prod, false},
		{"production serves them with a token", append(prod, "METRICS_ENABLED=true", "METRICS_TOKEN="+strings.Repeat("t", 24)), true},
	}
	for _, tt := range tests {
		c, err := Load(tt.env, "")
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if *c.MetricsEnabled != tt.enabled {
			t.Errorf("%s: METRICS_ENABLED = %v, want %v", tt.name, *c.MetricsEnabled, tt.enabled)
		}
	}
	if _, err := Load([]string{"SENTRY_ENABLED=true", "SENTRY_DSN=https://pub@o1.ingest.example/prefix/42"}, ""); err != nil {
		t.Errorf("a DSN with a path prefix is refused: %v", err)
	}
	_, err := Load([]string{"SENTRY_ENABLED=true", "SENTRY_DSN=https://secretkey@o1.ingest.example/x"}, "")
	if err == nil || strings.Contains(err.Error(), "secretkey") {
		t.Errorf("a bad DSN: %v (must be refused without repeating the key)", err)
	}
}

func TestParseDatabaseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		kind DatabaseKind
		path string
	}{
		{"sqlite://data/superagent.db", SQLite, "data/superagent.db"},
		{"sqlite:///var/lib/sa.db", SQLite, "/var/lib/sa.db"},
		{"sqlite://./x.db", SQLite, "x.db"},
		{"postgres://app:secret@127.0.0.1:5432/sa?sslmode=disable", Postgres, ""},
		{"postgresql://127.0.0.1/sa", Postgres, ""},
	}
	for _, tt := range tests {
		d, err := ParseDatabaseURL(tt.in)
		if err != nil || d.Kind != tt.kind || d.Path != tt.path {
			t.Errorf("%s: got %+v, %v", tt.in, d, err)
		}
		if strings.Contains(d.Redacted(), "secret") {
			t.Errorf("Redacted leaks the password: %s", d.Redacted())
		}
	}
}

// TestEverySettingIsDocumented keeps .env.example and the README's settings
// table in step with Config.
func TestEverySettingIsDocumented(t *testing.T) {
	t.Parallel()
	example, err := os.ReadFile("../../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	typ := reflect.TypeOf(Config{})
	for i := range typ.NumField() {
		name := typ.Field(i).Tag.Get("env")
		if name == "" {
			continue
		}
		if !strings.Contains(string(example), "\n"+name+"=") {
			t.Errorf(".env.example does not document %s", name)
		}
		if !strings.Contains(string(readme), "`"+name+"`") {
			t.Errorf("README.md does not document %s", name)
		}
	}
}
