package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/superagent-hq/superagent/internal/store/sqlstore"
)

// TestSingleOrganizationFirstSignUpsRace: in single-organization mode,
// simultaneous first sign-ups on PostgreSQL (READ COMMITTED) make exactly
// one admin; every other one joins as a viewer.
func TestSingleOrganizationFirstSignUpsRace(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sqlstore.KindPostgres, "ENABLE_MULTI_TENANCY=false")
	const n = 12
	var wg sync.WaitGroup
	start := make(chan struct{})
	roles := make([]string, n)
	orgs := make([]string, n)
	tokens := make([]string, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			raw, _ := json.Marshal(map[string]string{"email": fmt.Sprintf("racer%d@single.example", i),
				"username": fmt.Sprintf("racer%d", i), "password": "a long enough sign-up passphrase", "full_name": "Racer"})
			<-start
			res, err := http.Post(e.srv.URL+"/api/v1/auth/register", "application/json", bytes.NewReader(raw))
			if err != nil {
				errs[i] = err
				return
			}
			defer res.Body.Close()
			var out tokenBody
			if res.StatusCode != http.StatusCreated {
				errs[i] = fmt.Errorf("status %d", res.StatusCode)
				return
			}
			if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
				errs[i] = err
				return
			}
			roles[i], orgs[i], tokens[i] = out.User.Role, out.User.OrgID, out.AccessToken
		}(i)
	}
	close(start)
	wg.Wait()
	admins, admin := 0, ""
	for i := 0; i < n; i++ {
		if errs[i] != nil {
			t.Fatalf("sign-up %d: %v", i, errs[i])
		}
		if orgs[i] != orgs[0] {
			t.Errorf("sign-up %d joined organization %s, sign-up 0 joined %s", i, orgs[i], orgs[0])
		}
		switch roles[i] {
		case "admin":
			admins, admin = admins+1, tokens[i]
		case "viewer":
		default:
			t.Errorf("sign-up %d got role %q", i, roles[i])
		}
	}
	if admins != 1 {
		t.Errorf("%d admins among %d simultaneous first sign-ups, want exactly 1: %v", admins, n, roles)
	}
	if admins != 1 {
		return
	}
	// The stored users agree with the answers.
	var list struct {
		Users []struct {
			Role string `json:"role"`
		} `json:"users"`
	}
	e.call(http.MethodGet, "/api/v1/users?limit=100", admin, nil, http.StatusOK, &list)
	stored := 0
	for _, u := range list.Users {
		if u.Role == "admin" {
			stored++
		}
	}
	if len(list.Users) != n || stored != 1 {
		t.Errorf("stored: %d users, %d admins; want %d users, 1 admin", len(list.Users), stored, n)
	}
}
