package sqlstore

import (
	"context"
	"database/sql"
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
