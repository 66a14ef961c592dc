package decode

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ParseRateLimit reads what a response says about rate limits:
// RateLimit-Limit and RateLimit-Remaining (Docker Hub sends "100;w=21600":
// the count, then the window in seconds), their X-RateLimit-* variants,
// Docker-RateLimit-Source (the address the budget is counted against) and
// Retry-After, as delta-seconds or as an HTTP-date taken relative to the
// response's Date header (or to now when it has none). Header names match
// case-insensitively, also in a header map that was not canonicalised.
// It returns nil when none of these headers is present.
//
// WindowSeconds is the window of the limit: RateLimit-Limit's w=, or, when
// the limit carries none, RateLimit-Remaining's (both describe the one
// policy; Docker Hub sends the same w on each). A different w= on
// Remaining never replaces the limit's.
func ParseRateLimit(h http.Header, now time.Time) *RateLimit {
	// Most responses carry none of these: one pass over the names says so
	// (firstHeader scans the map once per name it does not find).
	if !hasAnyHeader(h, rateLimitHeaders[:]) {
		return nil
	}
	limit, okL := firstHeader(h, "RateLimit-Limit", "X-RateLimit-Limit")
	remaining, okR := firstHeader(h, "RateLimit-Remaining", "X-RateLimit-Remaining")
	source, okS := firstHeader(h, "Docker-RateLimit-Source")
	retry, okA := firstHeader(h, "Retry-After")
	if !okL && !okR && !okS && !okA {
		return nil
	}
	rl := &RateLimit{Limit: limit, Remaining: remaining, Source: source, RetryAfterRaw: retry}
	rl.LimitN, rl.WindowSeconds = rateLimitValue(limit)
	var w int
	rl.RemainingN, w = rateLimitValue(remaining)
	if rl.WindowSeconds == 0 {
		rl.WindowSeconds = w // the limit said nothing of its window
	}
	if retry != "" {
		if n, err := strconv.ParseInt(retry, 10, 64); err == nil {
			if n > 0 && n < int64(1<<62/time.Second) {
				rl.RetryAfter = time.Duration(n) * time.Second
			}
		} else if t, err := http.ParseTime(retry); err == nil {
			base := now
			if d, ok := firstHeader(h, "Date"); ok {
				if dt, err := http.ParseTime(d); err == nil {
					base = dt
				}
			}
			if d := t.Sub(base); d > 0 {
				rl.RetryAfter = d
			}
		}
	}
	return rl
}

var rateLimitHeaders = [...]string{"RateLimit-Limit", "X-RateLimit-Limit", "RateLimit-Remaining", "X-RateLimit-Remaining", "Docker-RateLimit-Source", "Retry-After"}

// hasAnyHeader reports whether h has one of names, case-insensitively.
func hasAnyHeader(h http.Header, names []string) bool {
	for k := range h {
		for _, n := range names {
			if strings.EqualFold(k, n) {
				return true
			}
		}
	}
	return false
}

// firstHeader returns the first value of the first of names present in h,
// trimmed, matching names case-insensitively.
func firstHeader(h http.Header, names ...string) (string, bool) {
	for _, name := range names {
		if vs, ok := h[http.CanonicalHeaderKey(name)]; ok && len(vs) > 0 {
			return strings.TrimSpace(vs[0]), true
		}
		for k, vs := range h {
			if strings.EqualFold(k, name) && len(vs) > 0 {
				return strings.TrimSpace(vs[0]), true
			}
		}
	}
	return "", false
}

// rateLimitValue reads "100;w=21600" (also "100, 100;w=21600", the draft's
// list form): the count, -1 when absent or unreadable, and the window in
// seconds, 0 when absent.
func rateLimitValue(v string) (n, window int) {
	n = -1
	item, _, _ := strings.Cut(v, ",")
	count, params, _ := strings.Cut(item, ";")
	if c, err := strconv.Atoi(strings.TrimSpace(count)); err == nil && c >= 0 {
		n = c
	}
	for p := range strings.SplitSeq(params, ";") {
		k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "w") {
			if w, err := strconv.Atoi(strings.TrimSpace(val)); err == nil && w > 0 {
				window = w
			}
		}
	}
	return n, window
}
