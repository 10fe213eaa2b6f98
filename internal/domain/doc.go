// Package domain holds the types every part of Super Agent shares:
// organizations, teams, users, roles and permissions, workflows and their
// definitions, executions, audit events and schedules, plus the error codes
// that the HTTP layer maps to statuses. It imports no database driver, HTTP
// framework or vendor SDK.
package domain
