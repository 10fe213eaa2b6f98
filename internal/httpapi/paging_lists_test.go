package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
)

// TestSessionListPaging: GET /api/v1/auth/sessions pages the caller's
// active sessions newest first (ties on created_at by id) with limit and
// cursor, marks the current one, and leaves out another user's sessions.
func TestSessionListPaging(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("SessPages")
		u := f.users[domain.RoleViewer]
		tok := f.token(domain.RoleViewer) // signs in: the current, newest session
		f.token(domain.RoleAdmin)         // another user's session
		scope := domain.OrgScope(f.org.ID)
		base := time.Now().UTC().Truncate(time.Microsecond).Add(-time.Hour)
		var older []domain.Session
		err := e.store.Write(context.Background(), scope, func(tx domain.Tx) error {
			// Four earlier sign-ins, two of them at the same instant.
			for _, off := range []int{3, 2, 2, 1} {
				se := &domain.Session{ID: domain.NewID(domain.PrefixSession), UserID: u.ID,
					CreatedAt: base.Add(time.Duration(off) * time.Second), ExpiresAt: base.Add(24 * time.Hour)}
				if err := tx.CreateSession(se); err != nil {
					return err
				}
				older = append(older, *se)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		sort.SliceStable(older, func(i, j int) bool {
			if !older[i].CreatedAt.Equal(older[j].CreatedAt) {
				return older[i].CreatedAt.After(older[j].CreatedAt)
			}
			return older[i].ID < older[j].ID
		})

		type sessionJSON struct {
			ID      string `json:"id"`
			Current bool   `json:"current"`
		}
		var got []sessionJSON
		cursor, pages := "", 0
		for ; pages < 10; pages++ {
			var page struct {
				Sessions   []sessionJSON `json:"sessions"`
				NextCursor *string       `json:"next_cursor"`
			}
			e.call(http.MethodGet, "/api/v1/auth/sessions?limit=2&cursor="+cursor, tok, nil, http.StatusOK, &page)
			if len(page.Sessions) > 2 {
				t.Fatalf("page of %d sessions, limit 2", len(page.Sessions))
			}
			got = append(got, page.Sessions...)
			if page.NextCursor == nil {
				break
			}
			if *page.NextCursor == "" {
				t.Fatal(`next_cursor is "" instead of absent`)
			}
			cursor = *page.NextCursor
		}
		if pages != 2 || len(got) != 5 {
			t.Fatalf("paged %d sessions over %d pages (%+v), want 5 over 3", len(got), pages+1, got)
		}
		if !got[0].Current || slices.ContainsFunc(got[1:], func(s sessionJSON) bool { return s.Current }) {
			t.Errorf("current flags = %+v, want only the first (newest)", got)
		}
		for i, se := range older {
			if got[i+1].ID != se.ID {
				t.Errorf("session %d = %s, want %s (order %+v)", i+1, got[i+1].ID, se.ID, got)
			}
		}

		// Without limit the default page holds them all, with no cursor.
		var all struct {
			Sessions   []sessionJSON `json:"sessions"`
			NextCursor string        `json:"next_cursor"`
		}
		e.call(http.MethodGet, "/api/v1/auth/sessions", tok, nil, http.StatusOK, &all)
		if len(all.Sessions) != 5 || all.NextCursor != "" {
			t.Errorf("default page = %d sessions, next %q", len(all.Sessions), all.NextCursor)
		}
		e.problemOf(http.MethodGet, "/api/v1/auth/sessions?limit=201", tok, nil, http.StatusUnprocessableEntity)
		e.problemOf(http.MethodGet, "/api/v1/auth/sessions?limit=0", tok, nil, http.StatusUnprocessableEntity)
		e.problemOf(http.MethodGet, "/api/v1/auth/sessions?cursor=garbage", tok, nil, http.StatusBadRequest)
	})
}

// TestProviderListPaging: GET /api/v1/providers pages the organization's
// credentials by provider name with limit and cursor, and another
// organization's credentials never appear.
func TestProviderListPaging(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("ProvPages")
		other := e.newOrg("ProvPagesOther")
		admin := f.token(domain.RoleAdmin)
		names := []string{"vllm", "ollama", "lmstudio", "localai", "groq"}
		for i, name := range names {
			e.call(http.MethodPut, "/api/v1/providers/"+name, admin,
				map[string]string{"base_url": fmt.Sprintf("http://127.0.0.1:%d/v1", 11000+i)}, http.StatusOK, nil)
		}
		// Sorts between the first organization's names.
		e.call(http.MethodPut, "/api/v1/providers/mistral", other.token(domain.RoleAdmin),
			map[string]string{"base_url": "http://127.0.0.1:12000/v1"}, http.StatusOK, nil)

		var got []string
		cursor, pages := "", 0
		for ; pages < 10; pages++ {
			var page struct {
				providerList
				NextCursor *string `json:"next_cursor"`
			}
			e.call(http.MethodGet, "/api/v1/providers?limit=2&cursor="+cursor, admin, nil, http.StatusOK, &page)
			if len(page.Providers) > 2 {
				t.Fatalf("page of %d providers, limit 2", len(page.Providers))
			}
			if page.KeyStore != "database" {
				t.Errorf("page %d: key_store %q", pages, page.KeyStore)
			}
			for _, p := range page.Providers {
				got = append(got, p.Provider)
			}
			if page.NextCursor == nil {
				break
			}
			cursor = *page.NextCursor
		}
		want := slices.Clone(names)
		slices.Sort(want)
		if pages != 2 || !slices.Equal(got, want) {
			t.Errorf("paged providers over %d pages = %v, want %v over 3", pages+1, got, want)
		}

		// An exact page ends without a cursor.
		var exact struct {
			providerList
			NextCursor string `json:"next_cursor"`
		}
		e.call(http.MethodGet, fmt.Sprintf("/api/v1/providers?limit=%d", len(names)), admin, nil, http.StatusOK, &exact)
		if len(exact.Providers) != len(names) || exact.NextCursor != "" {
			t.Errorf("exact page = %d providers, next %q", len(exact.Providers), exact.NextCursor)
		}
		e.problemOf(http.MethodGet, "/api/v1/providers?limit=201", admin, nil, http.StatusUnprocessableEntity)
		e.problemOf(http.MethodGet, "/api/v1/providers?cursor=garbage!", admin, nil, http.StatusBadRequest)
		e.problemOf(http.MethodGet, "/api/v1/providers?cursor="+strings.Repeat("A", 201), admin, nil, http.StatusUnprocessableEntity)
	})
}
