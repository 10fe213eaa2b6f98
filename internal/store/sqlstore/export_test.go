package sqlstore

import (
	"context"
	"database/sql"

	"github.com/superagent-hq/superagent/internal/domain"
)

// MigrateDownTo and MigrateUp move a test database's schema to a version,
// to test what a migration does to existing rows.
func MigrateDownTo(ctx context.Context, kind string, db *sql.DB, version int64) error {
	p, err := provider(kind, db)
	if err != nil {
		return err
	}
	_, err = p.DownTo(ctx, version)
	return err
}

func MigrateUp(ctx context.Context, kind string, db *sql.DB) error {
	p, err := provider(kind, db)
	if err != nil {
		return err
	}
	_, err = p.Up(ctx)
	return err
}

// Settings reads PostgreSQL settings inside a read and a write transaction
// of scope, as the store's own statements see them.
func (s *Store) Settings(ctx context.Context, scope domain.Scope, name string) (read, write string, err error) {
	get := func(q *queries) (string, error) {
		var v string
		err := q.db.QueryRowContext(ctx, "SELECT current_setting($1)", name).Scan(&v)
		return v, err
	}
	if err := s.Read(ctx, scope, func(q domain.Queries) error {
		read, err = get(q.(*queries))
		return err
	}); err != nil {
		return "", "", err
	}
	err = s.Write(ctx, scope, func(t domain.Tx) error {
		write, err = get(&t.(*tx).queries)
		return err
	})
	return read, write, err
}

// MemoHits counts the principal checks SQLite connections settled from
// their memory (principalmemo.go).
func (s *Store) MemoHits() int64 { return s.memoHits.Load() }
