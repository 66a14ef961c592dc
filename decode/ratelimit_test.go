package decode

import (
	"net/http"
	"reflect"
	"testing"
	"time"
)

func TestParseRateLimit(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name   string
		header http.Header
		want   *RateLimit
	}{
		{"none", http.Header{"Content-Type": {"application/json"}}, nil},
		{"nil header", nil, nil},
		{
			"Docker Hub",
			http.Header{"Ratelimit-Limit": {"100;w=21600"}, "Ratelimit-Remaining": {"76;w=21600"}, "Docker-Ratelimit-Source": {"192.0.2.10"}},
			&RateLimit{Limit: "100;w=21600", Remaining: "76;w=21600", LimitN: 100, RemainingN: 76, WindowSeconds: 21600, Source: "192.0.2.10"},
		},
		{
			"Docker Hub exhausted, header map not canonicalised (HAR)",
			http.Header{"ratelimit-limit": {"100;w=21600"}, "ratelimit-remaining": {"0;w=21600"}, "docker-ratelimit-source": {"2001:db8::/64"}},
			&RateLimit{Limit: "100;w=21600", Remaining: "0;w=21600", LimitN: 100, RemainingN: 0, WindowSeconds: 21600, Source: "2001:db8::/64"},
		},
		{
			// The window reported is the limit's; 76 is what is left of
			// some budget, not a limit per hour.
			"windows differ: the limit's is reported",
			http.Header{"Ratelimit-Limit": {"100;w=21600"}, "Ratelimit-Remaining": {"76;w=3600"}},
			&RateLimit{Limit: "100;w=21600", Remaining: "76;w=3600", LimitN: 100, RemainingN: 76, WindowSeconds: 21600},
		},
		{
			"only the limit has a window",
			http.Header{"Ratelimit-Limit": {"100;w=21600"}, "Ratelimit-Remaining": {"76"}},
			&RateLimit{Limit: "100;w=21600", Remaining: "76", LimitN: 100, RemainingN: 76, WindowSeconds: 21600},
		},
		{
			"only the remaining count has a window",
			http.Header{"Ratelimit-Limit": {"100"}, "Ratelimit-Remaining": {"76;w=3600"}},
			&RateLimit{Limit: "100", Remaining: "76;w=3600", LimitN: 100, RemainingN: 76, WindowSeconds: 3600},
		},
		{
			"a limit with a window and no remaining count",
			http.Header{"Ratelimit-Limit": {"100;w=21600"}},
			&RateLimit{Limit: "100;w=21600", LimitN: 100, RemainingN: -1, WindowSeconds: 21600},
		},
		{
			"a remaining count with a window and no limit",
			http.Header{"Ratelimit-Remaining": {"76;w=3600"}},
			&RateLimit{Remaining: "76;w=3600", LimitN: -1, RemainingN: 76, WindowSeconds: 3600},
		},
		{
			"X-RateLimit windows differ",
			http.Header{"X-Ratelimit-Limit": {"60;w=60"}, "X-Ratelimit-Remaining": {"59;w=1"}},
			&RateLimit{Limit: "60;w=60", Remaining: "59;w=1", LimitN: 60, RemainingN: 59, WindowSeconds: 60},
		},
		{
			"X-RateLimit variants",
			http.Header{"X-Ratelimit-Limit": {"5000"}, "X-Ratelimit-Remaining": {"4999"}},
			&RateLimit{Limit: "5000", Remaining: "4999", LimitN: 5000, RemainingN: 4999},
		},
		{
			"draft list form, window only on remaining",
			http.Header{"Ratelimit-Limit": {"10, 10;w=60, 1000;w=3600"}, "Ratelimit-Remaining": {"3;w=60"}},
			&RateLimit{Limit: "10, 10;w=60, 1000;w=3600", Remaining: "3;w=60", LimitN: 10, RemainingN: 3, WindowSeconds: 60},
		},
		{
			"source only",
			http.Header{"Docker-Ratelimit-Source": {"198.51.100.7"}},
			&RateLimit{LimitN: -1, RemainingN: -1, Source: "198.51.100.7"},
		},
		{
			"unparsable numbers",
			http.Header{"Ratelimit-Limit": {"lots"}, "Ratelimit-Remaining": {"-3"}},
			&RateLimit{Limit: "lots", Remaining: "-3", LimitN: -1, RemainingN: -1},
		},
		{
			"Retry-After seconds",
			http.Header{"Retry-After": {"120"}},
			&RateLimit{LimitN: -1, RemainingN: -1, RetryAfter: 2 * time.Minute, RetryAfterRaw: "120"},
		},
		{
			"Retry-After date relative to Date",
			http.Header{"Retry-After": {"Sat, 01 Mar 2025 11:01:30 GMT"}, "Date": {"Sat, 01 Mar 2025 11:00:00 GMT"}},
			&RateLimit{LimitN: -1, RemainingN: -1, RetryAfter: 90 * time.Second, RetryAfterRaw: "Sat, 01 Mar 2025 11:01:30 GMT"},
		},
		{
			"Retry-After date relative to now without Date",
			http.Header{"Retry-After": {"Sat, 01 Mar 2025 12:00:45 GMT"}},
			&RateLimit{LimitN: -1, RemainingN: -1, RetryAfter: 45 * time.Second, RetryAfterRaw: "Sat, 01 Mar 2025 12:00:45 GMT"},
		},
		{
			"Retry-After in the past",
			http.Header{"Retry-After": {"Sat, 01 Mar 2025 11:00:00 GMT"}},
			&RateLimit{LimitN: -1, RemainingN: -1, RetryAfterRaw: "Sat, 01 Mar 2025 11:00:00 GMT"},
		},
		{
			"Retry-After garbage and huge",
			http.Header{"Retry-After": {"soon"}},
			&RateLimit{LimitN: -1, RemainingN: -1, RetryAfterRaw: "soon"},
		},
		{
			"Retry-After overflowing",
			http.Header{"Retry-After": {"99999999999999999"}},
			&RateLimit{LimitN: -1, RemainingN: -1, RetryAfterRaw: "99999999999999999"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := ParseRateLimit(c.header, now)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("ParseRateLimit(%v) =\n got %+v\nwant %+v", c.header, got, c.want)
			}
		})
	}
}
