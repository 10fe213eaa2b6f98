package domain

import (
	"slices"
	"sort"
)

// Permission is one capability a principal may hold, e.g. "workflows.create".
type Permission string

// The permission catalog. Every route declares exactly one of these (or is
// public); a route without one fails the access-matrix test.
const (
	PermWorkflowsRead    Permission = "workflows.read"
	PermWorkflowsCreate  Permission = "workflows.create"
	PermWorkflowsUpdate  Permission = "workflows.update"
	PermWorkflowsDelete  Permission = "workflows.delete"
	PermWorkflowsExecute Permission = "workflows.execute"
	PermWorkflowsPublish Permission = "workflows.publish"
	PermAgentsRead       Permission = "agents.read"
	PermAgentsCreate     Permission = "agents.create"
	PermAgentsUpdate     Permission = "agents.update"
	PermAgentsDelete     Permission = "agents.delete"
	PermExecutionsRead   Permission = "executions.read"
	PermExecutionsCancel Permission = "executions.cancel"
	PermSchedulesRead    Permission = "schedules.read"
	PermSchedulesManage  Permission = "schedules.manage"
	PermAPIKeysManage    Permission = "api_keys.manage"
	PermTeamsRead        Permission = "teams.read"
	PermTeamsManage      Permission = "teams.manage"
	PermUsersRead        Permission = "users.read"
	PermUsersManage      Permission = "users.manage"
	PermOrgRead          Permission = "org.read"
	PermOrgManage        Permission = "org.manage"
	PermUsageRead        Permission = "usage.read"
	PermAuditRead        Permission = "audit.read"
	PermAuditExport      Permission = "audit.export"
	PermSecretsManage    Permission = "secrets.manage"
)

// PermissionInfo describes a permission for the catalog endpoint.
type PermissionInfo struct {
	Name        Permission `json:"name"`
	Description string     `json:"description"`
}

// Permissions is the full catalog in display order.
var Permissions = []PermissionInfo{
	{PermWorkflowsRead, "List and read workflows, their versions and statistics"},
	{PermWorkflowsCreate, "Create and import workflows"},
	{PermWorkflowsUpdate, "Change workflow definitions and roll back versions"},
	{PermWorkflowsDelete, "Archive workflows"},
	{PermWorkflowsExecute, "Start executions"},
	{PermWorkflowsPublish, "Pin versions to the dev, staging and prod environments"},
	{PermAgentsRead, "List and read library agents"},
	{PermAgentsCreate, "Create and generate library agents"},
	{PermAgentsUpdate, "Change library agents"},
	{PermAgentsDelete, "Delete library agents"},
	{PermExecutionsRead, "List and read executions and their events"},
	{PermExecutionsCancel, "Cancel running executions"},
	{PermSchedulesRead, "List and read schedules"},
	{PermSchedulesManage, "Create, change and delete schedules"},
	{PermAPIKeysManage, "Create, list and revoke API keys"},
	{PermTeamsRead, "List and read teams"},
	{PermTeamsManage, "Create, change and delete teams"},
	{PermUsersRead, "List and read users"},
	{PermUsersManage, "Invite users, change roles, teams and permissions, deactivate and delete users"},
	{PermOrgRead, "Read the organization, its plan and limits"},
	{PermOrgManage, "Change organization settings"},
	{PermUsageRead, "Read token and cost usage"},
	{PermAuditRead, "Query and verify the audit log"},
	{PermAuditExport, "Export the audit log"},
	{PermSecretsManage, "Set and delete provider credentials"},
}

// ValidPermission reports whether p is in the catalog.
func ValidPermission(p Permission) bool {
	for _, info := range Permissions {
		if info.Name == p {
			return true
		}
	}
	return false
}

// Role is a named set of permissions.
type Role string

// The four roles of the seed.
const (
	RoleAdmin     Role = "admin"
	RoleDeveloper Role = "developer"
	RoleOperator  Role = "operator"
	RoleViewer    Role = "viewer"
)

// Roles lists the roles from most to least privileged.
var Roles = []Role{RoleAdmin, RoleDeveloper, RoleOperator, RoleViewer}

// ValidRole reports whether r is one of the four roles.
func ValidRole(r Role) bool { return slices.Contains(Roles, r) }

var readPermissions = []Permission{
	PermWorkflowsRead, PermAgentsRead, PermExecutionsRead, PermSchedulesRead,
	PermTeamsRead, PermUsersRead, PermOrgRead, PermUsageRead,
}

var rolePermissions = map[Role][]Permission{
	RoleAdmin:    allPermissions(),
	RoleViewer:   readPermissions,
	RoleOperator: append(slices.Clone(readPermissions), PermWorkflowsExecute, PermExecutionsCancel),
	RoleDeveloper: append(slices.Clone(readPermissions), PermWorkflowsExecute, PermExecutionsCancel,
		PermWorkflowsCreate, PermWorkflowsUpdate, PermWorkflowsDelete, PermWorkflowsPublish,
		PermAgentsCreate, PermAgentsUpdate, PermAgentsDelete, PermSchedulesManage, PermAPIKeysManage),
}

func allPermissions() []Permission {
	all := make([]Permission, 0, len(Permissions))
	for _, p := range Permissions {
		all = append(all, p.Name)
	}
	return all
}

// RolePermissions returns the permissions a role grants, sorted. The result
// is a copy.
func RolePermissions(r Role) []Permission {
	out := slices.Clone(rolePermissions[r])
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// PermissionSet is a set of permissions.
type PermissionSet map[Permission]struct{}

// NewPermissionSet builds a set from a role and extra permissions. Unknown
// extra permissions are ignored.
func NewPermissionSet(role Role, extra []Permission) PermissionSet {
	s := PermissionSet{}
	for _, p := range rolePermissions[role] {
		s[p] = struct{}{}
	}
	for _, p := range extra {
		if ValidPermission(p) {
			s[p] = struct{}{}
		}
	}
	return s
}

// Has reports whether the set holds p.
func (s PermissionSet) Has(p Permission) bool { _, ok := s[p]; return ok }

// Intersect returns the permissions held by both sets.
func (s PermissionSet) Intersect(o PermissionSet) PermissionSet {
	out := PermissionSet{}
	for p := range s {
		if o.Has(p) {
			out[p] = struct{}{}
		}
	}
	return out
}

// Sorted returns the permissions in lexical order.
func (s PermissionSet) Sorted() []Permission {
	out := make([]Permission, 0, len(s))
	for p := range s {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
