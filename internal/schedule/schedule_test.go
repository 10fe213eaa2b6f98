package schedule

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func mustParse(t *testing.T, expr, tz string) *Schedule {
	t.Helper()
	s, err := Parse(expr, tz)
	if err != nil {
		t.Fatalf("Parse(%q, %q): %v", expr, tz, err)
	}
	return s
}

func mustTime(t *testing.T, rfc3339 string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, rfc3339)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func formatUTC(ts []time.Time) []string {
	out := make([]string, len(ts))
	for i, v := range ts {
		out[i] = v.Format(time.RFC3339)
	}
	return out
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr, tz   string
		wantPart   string
		wantReason string
	}{
		{"", "UTC", "cron expression", "empty"},
		{"   ", "UTC", "cron expression", "empty"},
		{"* * * *", "UTC", "cron expression", "expected 5 fields"},
		{"0 * * * * *", "UTC", "cron expression", "seconds and years are not supported"},
		{"CRON_TZ=UTC 0 * * * *", "UTC", "cron expression", "time zone prefixes"},
		{strings.Repeat("1,", 100) + "1 * * * *", "UTC", "cron expression", "longer than 128"},
		{"60 * * * *", "UTC", "minute field", "60 is outside 0-59"},
		{"-1 * * * *", "UTC", "minute field", "missing value"},
		{"x * * * *", "UTC", "minute field", `"x" is not a number`},
		{"1,,2 * * * *", "UTC", "minute field", "empty item"},
		{"*/0 * * * *", "UTC", "minute field", "step 0 must be between 1 and 59"},
		{"*/90 * * * *", "UTC", "minute field", "step 90 must be between 1 and 59"},
		{"*/x * * * *", "UTC", "minute field", "not a whole number"},
		{"1/2/3 * * * *", "UTC", "minute field", "not a whole number"},
		{"0 24 * * *", "UTC", "hour field", "24 is outside 0-23"},
		{"0 5-3 * * *", "UTC", "hour field", "starts after it ends"},
		{"0 0 0 * *", "UTC", "day-of-month field", "0 is outside 1-31"},
		{"0 0 32 * *", "UTC", "day-of-month field", "32 is outside 1-31"},
		{"0 0 ? * *", "UTC", "day-of-month field", "not a number"},
		{"0 0 L * *", "UTC", "day-of-month field", "not a number"},
		{"0 0 * 13 *", "UTC", "month field", "13 is outside 1-12"},
		{"0 0 * foo *", "UTC", "month field", "neither a number nor a name (jan-dec)"},
		{"0 0 * * 8", "UTC", "day-of-week field", "8 is outside 0-7"},
		{"0 0 * * mon-fry", "UTC", "day-of-week field", `"fry" is neither a number nor a name (sun-sat)`},
		{"0 0 * * 1#2", "UTC", "day-of-week field", "neither a number nor a name"},
		{"0 0 30 2 *", "UTC", "cron expression", "never runs"},
		{"0 0 31 4,6,9,11 *", "UTC", "cron expression", "never runs"},
		{"0 0 30,31 feb *", "UTC", "cron expression", "never runs"},
		{"@fortnightly", "UTC", "cron expression", "unknown descriptor"},
		{"@reboot", "UTC", "cron expression", "unknown descriptor"},
		{"@daily 5", "UTC", "cron expression", "unknown descriptor"},
		{"@every", "UTC", "cron expression", "needs a duration"},
		{"@every 30s", "UTC", "cron expression", "between 1m0s and"},
		{"@every 90s", "UTC", "cron expression", "whole number of minutes"},
		{"@every -5m", "UTC", "cron expression", "between"},
		{"@every 1d", "UTC", "cron expression", "not a duration"},
		{"@every 9000h", "UTC", "cron expression", "between"},
		{"0 * * * *", "Mars/Olympus_Mons", "time zone", "unknown IANA time zone"},
		{"0 * * * *", "../../etc/passwd", "time zone", "unknown IANA time zone"},
		{"0 * * * *", "/etc/localtime", "time zone", "unknown IANA time zone"},
		{"0 * * * *", "Local", "time zone", "IANA time zone"},
		{"0 * * * *", strings.Repeat("A", 65), "time zone", "longer than 64"},
	}
	for _, tt := range tests {
		t.Run(tt.expr+"|"+tt.tz, func(t *testing.T) {
			t.Parallel()
			s, err := Parse(tt.expr, tt.tz)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q, %q) = %v, %v; want *ParseError", tt.expr, tt.tz, s, err)
			}
			if pe.Part != tt.wantPart || !strings.Contains(pe.Reason, tt.wantReason) {
				t.Errorf("Parse(%q, %q) error = %q (part %q); want part %q with reason containing %q",
					tt.expr, tt.tz, err, pe.Part, tt.wantPart, tt.wantReason)
			}
			if !strings.HasPrefix(err.Error(), "invalid "+tt.wantPart) {
				t.Errorf("message %q does not start with %q", err, "invalid "+tt.wantPart)
			}
		})
	}
}

// TestNextUTC checks field semantics where no daylight-saving change
// interferes. 2026-01-01 is a Thursday.
func TestNextUTC(t *testing.T) {
	t.Parallel()
	const from = "2026-01-01T00:00:00Z"
	tests := []struct {
		expr string
		want []string
	}{
		{"* * * * *", []string{"2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z"}},
		{"  15 10 * * *  ", []string{"2026-01-01T10:15:00Z", "2026-01-02T10:15:00Z"}},
		{"@yearly", []string{"2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"}},
		{"@annually", []string{"2027-01-01T00:00:00Z"}},
		{"@MONTHLY", []string{"2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"}},
		{"@weekly", []string{"2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"}},
		{"@daily", []string{"2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"}},
		{"@midnight", []string{"2026-01-02T00:00:00Z"}},
		{"@hourly", []string{"2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z"}},
		// Steps: "a/n" means a up to the maximum in steps of n.
		{"5/20 * * * *", []string{"2026-01-01T00:05:00Z", "2026-01-01T00:25:00Z", "2026-01-01T00:45:00Z", "2026-01-01T01:05:00Z"}},
		{"10-20/5 */12 * * *", []string{"2026-01-01T00:10:00Z", "2026-01-01T00:15:00Z", "2026-01-01T00:20:00Z", "2026-01-01T12:10:00Z"}},
		{"0 0,12 * * *", []string{"2026-01-01T12:00:00Z", "2026-01-02T00:00:00Z"}},
		// Names, ranges of names, 7 as Sunday.
		{"0 9 * * mon-fri", []string{"2026-01-01T09:00:00Z", "2026-01-02T09:00:00Z", "2026-01-05T09:00:00Z"}},
		{"0 0 * * 7", []string{"2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"}},
		{"0 0 * * 5-7", []string{"2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z", "2026-01-09T00:00:00Z"}},
		{"0 0 * * Sun,sat", []string{"2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z", "2026-01-10T00:00:00Z"}},
		{"0 0 1 jan,JUL *", []string{"2026-07-01T00:00:00Z", "2027-01-01T00:00:00Z"}},
		{"0 0 1 mar-may/2 *", []string{"2026-03-01T00:00:00Z", "2026-05-01T00:00:00Z", "2027-03-01T00:00:00Z"}},
		// Both day fields restricted: either matches (13th or any Friday).
		{"0 0 13 * fri", []string{"2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z", "2026-01-13T00:00:00Z", "2026-01-16T00:00:00Z"}},
		// Day-of-month starts with '*': both must match (as in Vixie cron).
		{"0 0 */10 * 1", []string{"2026-05-11T00:00:00Z", "2026-06-01T00:00:00Z", "2026-08-31T00:00:00Z"}},
		// Only one day field restricted: it alone decides.
		{"0 0 31 * *", []string{"2026-01-31T00:00:00Z", "2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z"}},
		{"0 0 29 2 *", []string{"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"}},
		// @every counts from the Unix epoch, in absolute time.
		{"@every 90m", []string{"2026-01-01T01:30:00Z", "2026-01-01T03:00:00Z"}},
		{"@every 7h", []string{"2026-01-01T07:00:00Z", "2026-01-01T14:00:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			t.Parallel()
			s := mustParse(t, tt.expr, "UTC")
			got := formatUTC(s.Preview(mustTime(t, from), len(tt.want)))
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("Preview(%q) =\n %v\nwant\n %v", tt.expr, got, tt.want)
			}
		})
	}
}

func TestNextIsStrictlyAfterAndInUTC(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr, tz, after, want string
	}{
		{"30 9 * * *", "Europe/Berlin", "2026-06-01T07:30:00Z", "2026-06-02T07:30:00Z"},
		{"30 9 * * *", "Europe/Berlin", "2026-06-01T07:29:59.999Z", "2026-06-01T07:30:00Z"},
		{"30 9 * * *", "Europe/Berlin", "2026-06-01T07:30:00.001Z", "2026-06-02T07:30:00Z"},
		{"@every 15m", "Asia/Kolkata", "2026-06-01T07:30:00Z", "2026-06-01T07:45:00Z"},
		{"@every 15m", "Asia/Kolkata", "2026-06-01T07:29:59Z", "2026-06-01T07:30:00Z"},
		{"@every 1h", "UTC", "1969-12-31T22:30:00Z", "1969-12-31T23:00:00Z"},
		// Half-hour offset: wall-clock minutes, not UTC minutes.
		{"0 * * * *", "Asia/Kolkata", "2026-06-01T00:00:00Z", "2026-06-01T00:30:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.expr+"|"+tt.after, func(t *testing.T) {
			t.Parallel()
			s := mustParse(t, tt.expr, tt.tz)
			got := s.Next(mustTime(t, tt.after))
			if got.Location() != time.UTC {
				t.Errorf("Next returned location %v, want UTC", got.Location())
			}
			if want := mustTime(t, tt.want); !got.Equal(want) {
				t.Errorf("Next(%s) = %s, want %s", tt.after, got.Format(time.RFC3339Nano), tt.want)
			}
		})
	}
}

// TestDaylightSaving pins the run times around the 2026 transitions.
// New York: 2026-03-08 02:00 EST -> 03:00 EDT (07:00Z); 2026-11-01 02:00 EDT
// -> 01:00 EST (06:00Z). Berlin: 2026-03-29 02:00 CET -> 03:00 CEST (01:00Z);
// 2026-10-25 03:00 CEST -> 02:00 CET (01:00Z).
func TestDaylightSaving(t *testing.T) {
	t.Parallel()
	const ny, berlin = "America/New_York", "Europe/Berlin"
	tests := []struct {
		name, expr, tz, from string
		want                 []string
	}{
		{"NY spring: 02:30 runs at 03:00 once", "30 2 * * *", ny, "2026-03-07T00:00:00Z",
			[]string{"2026-03-07T07:30:00Z", "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"}},
		{"NY spring: 02:00 runs at 03:00", "0 2 * * *", ny, "2026-03-08T00:00:00Z",
			[]string{"2026-03-08T07:00:00Z", "2026-03-09T06:00:00Z"}},
		{"NY spring: several gap times and 03:00 give one run", "0,20,40 2,3 * * *", ny, "2026-03-08T06:00:00Z",
			[]string{"2026-03-08T07:00:00Z", "2026-03-08T07:20:00Z", "2026-03-08T07:40:00Z", "2026-03-09T06:00:00Z"}},
		{"NY spring: 01:59 just before the gap exists", "59 1 * * *", ny, "2026-03-08T00:00:00Z",
			[]string{"2026-03-08T06:59:00Z", "2026-03-09T05:59:00Z"}},
		{"NY spring: from the shifted run itself", "30 2 * * *", ny, "2026-03-08T07:00:00Z",
			[]string{"2026-03-09T06:30:00Z"}},
		{"NY spring: from inside the last second before the gap", "30 2 * * *", ny, "2026-03-08T06:59:59Z",
			[]string{"2026-03-08T07:00:00Z"}},
		{"NY spring: weekly keeps local midnight", "@weekly", ny, "2026-03-01T05:00:00Z",
			[]string{"2026-03-08T05:00:00Z", "2026-03-15T04:00:00Z"}},
		{"NY fall: 01:30 runs once, first occurrence", "30 1 * * *", ny, "2026-10-31T00:00:00Z",
			[]string{"2026-10-31T05:30:00Z", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}},
		{"NY fall: fixed list runs once each", "0,30 1 * * *", ny, "2026-11-01T04:00:00Z",
			[]string{"2026-11-01T05:00:00Z", "2026-11-01T05:30:00Z", "2026-11-02T06:00:00Z"}},
		{"NY fall: from the second 01:10, fixed 01:30 waits a day", "30 1 * * *", ny, "2026-11-01T06:10:00Z",
			[]string{"2026-11-02T06:30:00Z"}},
		{"NY fall: interval minute field runs in both hours", "*/30 1 * * *", ny, "2026-11-01T04:00:00Z",
			[]string{"2026-11-01T05:00:00Z", "2026-11-01T05:30:00Z", "2026-11-01T06:00:00Z", "2026-11-01T06:30:00Z", "2026-11-02T06:00:00Z"}},
		{"NY fall: interval from the second 01:10", "*/30 1 * * *", ny, "2026-11-01T06:10:00Z",
			[]string{"2026-11-01T06:30:00Z", "2026-11-02T06:00:00Z"}},
		{"NY fall: 02:00 after the repeat", "0 2 * * *", ny, "2026-11-01T00:00:00Z",
			[]string{"2026-11-01T07:00:00Z", "2026-11-02T07:00:00Z"}},
		{"Berlin spring: 02:30 runs at 03:00 once", "30 2 * * *", berlin, "2026-03-28T00:00:00Z",
			[]string{"2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"}},
		{"Berlin spring: every 20 minutes in hour 2", "*/20 2 * * *", berlin, "2026-03-29T00:00:00Z",
			[]string{"2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z", "2026-03-30T00:20:00Z"}},
		{"Berlin fall: 02:30 runs once, first occurrence", "30 2 * * *", berlin, "2026-10-24T00:00:00Z",
			[]string{"2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"}},
		{"Berlin fall: 02:00 step hour runs in both hours", "0 */2 * * *", berlin, "2026-10-24T21:30:00Z",
			[]string{"2026-10-24T22:00:00Z", "2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z", "2026-10-25T03:00:00Z"}},
		{"Berlin fall: 03:00 after the repeat", "0 3 * * *", berlin, "2026-10-24T12:00:00Z",
			[]string{"2026-10-25T02:00:00Z", "2026-10-26T02:00:00Z"}},
		{"Lord Howe spring: 30-minute gap", "15 2 * * *", "Australia/Lord_Howe", "2026-10-03T00:00:00Z",
			[]string{"2026-10-03T15:30:00Z", "2026-10-04T15:15:00Z"}},
		{"Lord Howe fall: 30-minute repeat", "45 1 * * *", "Australia/Lord_Howe", "2027-04-03T00:00:00Z",
			[]string{"2027-04-03T14:45:00Z", "2027-04-04T15:15:00Z"}},
		// time.Time.ZoneBounds misreports the period end on the last UTC day
		// of leap years served by a zone's rule string (golang/go#81583).
		{"NY: across the end of 2040", "0 12 * * *", ny, "2040-12-30T00:00:00Z",
			[]string{"2040-12-30T17:00:00Z", "2040-12-31T17:00:00Z", "2041-01-01T17:00:00Z"}},
		{"Berlin: across the end of 2040", "30 0 * * *", berlin, "2040-12-30T12:00:00Z",
			[]string{"2040-12-30T23:30:00Z", "2040-12-31T23:30:00Z"}},
		// Samoa skipped 2011-12-30 entirely: the noon run moves to the first
		// instant after the gap, 2011-12-31 00:00 +14.
		{"Apia: a skipped day", "0 12 * * *", "Pacific/Apia", "2011-12-29T00:00:00Z",
			[]string{"2011-12-29T22:00:00Z", "2011-12-30T10:00:00Z", "2011-12-30T22:00:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := mustParse(t, tt.expr, tt.tz)
			got := formatUTC(s.Preview(mustTime(t, tt.from), len(tt.want)))
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("Preview(%q in %s from %s) =\n %v\nwant\n %v", tt.expr, tt.tz, tt.from, got, tt.want)
			}
		})
	}
}

// TestIntervalsFollowElapsedTime checks that wildcard and step schedules keep
// a constant spacing in real time through transitions, and count the runs of
// each local day.
func TestIntervalsFollowElapsedTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr, tz string
		day      string // local date of a transition
		spacing  time.Duration
		runs     int // runs on that local day
	}{
		{"*/15 * * * *", "America/New_York", "2026-03-08", 15 * time.Minute, 23 * 4},
		{"*/15 * * * *", "America/New_York", "2026-11-01", 15 * time.Minute, 25 * 4},
		{"*/15 * * * *", "Europe/Berlin", "2026-03-29", 15 * time.Minute, 23 * 4},
		{"*/15 * * * *", "Europe/Berlin", "2026-10-25", 15 * time.Minute, 25 * 4},
		{"0 * * * *", "America/New_York", "2026-03-08", time.Hour, 23},
		{"0 * * * *", "America/New_York", "2026-11-01", time.Hour, 25},
		{"0 * * * *", "Europe/Berlin", "2026-03-29", time.Hour, 23},
		{"0 * * * *", "Europe/Berlin", "2026-10-25", time.Hour, 25},
		{"@hourly", "America/New_York", "2026-03-08", time.Hour, 23},
		{"@hourly", "America/New_York", "2026-11-01", time.Hour, 25},
		{"@hourly", "Europe/Berlin", "2026-03-29", time.Hour, 23},
		{"@hourly", "Europe/Berlin", "2026-10-25", time.Hour, 25},
		{"* * * * *", "Europe/Berlin", "2026-10-25", time.Minute, 25 * 60},
		{"@every 30m", "America/New_York", "2026-11-01", 30 * time.Minute, 50},
	}
	for _, tt := range tests {
		t.Run(tt.expr+"|"+tt.tz+"|"+tt.day, func(t *testing.T) {
			t.Parallel()
			s := mustParse(t, tt.expr, tt.tz)
			day, err := time.ParseInLocation(time.DateOnly, tt.day, s.Location())
			if err != nil {
				t.Fatal(err)
			}
			start := day
			end := time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, s.Location())
			var runs []time.Time
			for next := s.Next(start.Add(-time.Second)); next.Before(end); next = s.Next(next) {
				runs = append(runs, next)
			}
			if len(runs) != tt.runs {
				t.Errorf("%d runs on %s, want %d", len(runs), tt.day, tt.runs)
			}
			if len(runs) > 0 && !runs[0].Equal(start) {
				t.Errorf("first run %s, want local midnight %s", runs[0], start.UTC())
			}
			for i := 1; i < len(runs); i++ {
				if d := runs[i].Sub(runs[i-1]); d != tt.spacing {
					t.Errorf("run %d at %s is %v after the previous one, want %v", i, runs[i].In(s.Location()), d, tt.spacing)
				}
			}
		})
	}
}

// TestNextGivesUpOnImpossibleSchedules builds a schedule that Parse would
// refuse and checks that Next still ends, returning the zero Time.
func TestNextGivesUpOnImpossibleSchedules(t *testing.T) {
	t.Parallel()
	for _, tz := range []string{"UTC", "America/New_York"} {
		s := mustParse(t, "0 0 28 2 *", tz)
		s.dom = 1 << 30 // the 30th of February
		if got := s.Next(mustTime(t, "2026-01-01T00:00:00Z")); !got.IsZero() {
			t.Errorf("%s: Next = %s, want zero Time", tz, got)
		}
		if got := s.Preview(mustTime(t, "2026-01-01T00:00:00Z"), 3); len(got) != 0 {
			t.Errorf("%s: Preview = %v, want none", tz, got)
		}
	}
}

func TestPreviewBounds(t *testing.T) {
	t.Parallel()
	s := mustParse(t, "* * * * *", "UTC")
	from := mustTime(t, "2026-01-01T00:00:00Z")
	tests := []struct{ n, want int }{{-1, 0}, {0, 0}, {1, 1}, {MaxPreview, MaxPreview}, {MaxPreview + 1, MaxPreview}}
	for _, tt := range tests {
		if got := len(s.Preview(from, tt.n)); got != tt.want {
			t.Errorf("len(Preview(n=%d)) = %d, want %d", tt.n, got, tt.want)
		}
	}
}

func TestStringAndLocation(t *testing.T) {
	t.Parallel()
	s := mustParse(t, " 0 9 * * mon ", "Europe/Berlin")
	if s.String() != "0 9 * * mon" {
		t.Errorf("String() = %q", s.String())
	}
	if s.Location().String() != "Europe/Berlin" {
		t.Errorf("Location() = %v", s.Location())
	}
	if u := mustParse(t, "@daily", ""); u.Location() != time.UTC {
		t.Errorf("empty zone gives %v, want UTC", u.Location())
	}
}
