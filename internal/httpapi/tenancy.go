package httpapi

import (
	"time"

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
