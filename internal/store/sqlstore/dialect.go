package sqlstore

// dialect holds the few SQL fragments that differ between the databases.
type dialect struct {
	name string
	// forUpdate locks selected rows until commit. SQLite needs none: a write
	// transaction there holds the database's single write lock from BEGIN.
	forUpdate string
	// jsonArrayContains(col, $n) is true when the JSON array column holds the text value.
	jsonArrayContains func(col, param string) string
	// ilike is case-insensitive LIKE.
	ilike string
}

var postgresDialect = dialect{
	name:      KindPostgres,
	forUpdate: " FOR UPDATE",
	jsonArrayContains: func(col, param string) string {
		return col + " @> jsonb_build_array(" + param + "::text)"
	},
	ilike: "ILIKE",
}

var sqliteDialect = dialect{
	name:      KindSQLite,
	forUpdate: "",
	jsonArrayContains: func(col, param string) string {
		return "EXISTS (SELECT 1 FROM json_each(" + col + ") WHERE json_each.value = " + param + ")"
	},
	ilike: "LIKE", // SQLite's LIKE is case-insensitive for ASCII
}
