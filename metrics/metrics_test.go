package metrics_test

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ripple-rt/ripple"
	"github.com/ripple-rt/ripple/internal/wstest"
	"github.com/ripple-rt/ripple/metrics"
	"github.com/ripple-rt/ripple/presence"
	"github.com/ripple-rt/ripple/webhook"
)

// scrape fetches url and returns its series: "name{labels}" → value.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

func TestServerMetrics(t *testing.T) {
	m := metrics.New(metrics.Config{})
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	srv := wstest.Start(t, ripple.Config{Observer: m, HTTPHandler: mux}, nil)
	m.Watch(srv.Server)
	url := "http://" + srv.Addr + "/metrics"

	a := srv.Dial(t, "/ws/chat")
	wstest.ReadString(t, a) // own join
	b := srv.Dial(t, "/ws/chat")
	wstest.ReadString(t, a) // b's join
	wstest.ReadString(t, b)
	wstest.Send(t, a, "hi")
	wstest.ReadString(t, a)
	wstest.ReadString(t, b)
	if _, err := wstest.DialURL(srv.URL("/nope")); err == nil {
		t.Fatal("dial /nope succeeded")
	}
	_ = b.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "bye"))
	wstest.Eventually(t, "b to be gone", func() bool { return srv.Count() == 1 })
	m.WebhookCall("/ws/x", "connect", webhook.OK, 5*time.Millisecond)
	m.WebhookCall("/ws/x", "message", webhook.Timeout, 2*time.Second)
	m.WebhookInvalidAnswer("/ws/x")
	m.WebhookInvalidAnswer("/ws/x")

	var got map[string]float64
	wstest.Eventually(t, "a queue delay sample", func() bool {
		got = scrape(t, url)
		return got["ripple_loop_queue_delay_seconds_count"] > 0
	})
	for series, want := range map[string]float64{
		"ripple_connections":                1,
		"ripple_connections_upgraded_total": 2,
		`ripple_connections_rejected_total{reason="no_route",status="404"}`:                 1,
		`ripple_connections_closed_total{code="4001"}`:                                      1,
		"ripple_messages_received_total":                                                    1,
		"ripple_received_bytes_total":                                                       2,
		"ripple_broadcasts_total":                                                           3, // two join notices, one message
		"ripple_broadcast_recipients_total":                                                 5, // 1 + 2 + 2
		"ripple_slow_consumer_closes_total":                                                 0,
		"ripple_rate_limited_total":                                                         0,
		"ripple_handler_panics_total":                                                       0,
		`ripple_webhook_duration_seconds_count{event="connect",outcome="ok",route="/ws/x"}`: 1,
		`ripple_webhook_duration_seconds_bucket{event="connect",outcome="ok",route="/ws/x",le="0.001"}`: 0,
		`ripple_webhook_duration_seconds_count{event="message",outcome="timeout",route="/ws/x"}`:        1,
		`ripple_webhook_invalid_answers_total{route="/ws/x"}`:                                           2,
	} {
		if v, ok := got[series]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", series, v, ok, want)
		}
	}
	if got["ripple_connections_accepted_total"] < 3 || got["ripple_broadcast_bytes_total"] <= 0 {
		t.Errorf("accepted %v, bytes out %v", got["ripple_connections_accepted_total"], got["ripple_broadcast_bytes_total"])
	}
	if _, ok := got["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}
	if _, ok := got["process_open_fds"]; !ok {
		t.Error("no process metrics")
	}
}

func TestPresence(t *testing.T) {
	reg := presence.NewRegistry(presence.ModeUser)
	for _, tr := range []struct{ ch, conn, user string }{
		{"room:a", "c1", "u1"}, {"room:a", "c2", "u1"}, {"room:a", "c3", "u2"},
		{"room:b", "c4", "u3"}, {"room:c", "c5", "u4"}, {"room:c", "c6", "u5"},
	} {
		if err := reg.Track(tr.ch, tr.conn, tr.user, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		top      int
		channels []string // with a per-channel series
	}{
		{0, []string{"room:a", "room:b", "room:c"}},
		{2, []string{"room:a", "room:c"}}, // the most populated; ties by name
		{-1, nil},
	} {
		t.Run(fmt.Sprintf("top=%d", tc.top), func(t *testing.T) {
			m := metrics.New(metrics.Config{PresenceChannels: tc.top})
			m.WatchPresence(reg)
			hs := httptest.NewServer(m.Handler())
			defer hs.Close()
			got := scrape(t, hs.URL)
			if got["ripple_presence_channels"] != 3 || got["ripple_presence_users"] != 5 {
				t.Fatalf("channels %v users %v", got["ripple_presence_channels"], got["ripple_presence_users"])
			}
			want := map[string]float64{"room:a": 2, "room:b": 1, "room:c": 2}
			n := 0
			for series := range got {
				if strings.HasPrefix(series, "ripple_presence_channel_users") {
					n++
				}
			}
			if n != len(tc.channels) {
				t.Fatalf("%d per-channel series, want %d", n, len(tc.channels))
			}
			for _, ch := range tc.channels {
				if v := got[`ripple_presence_channel_users{channel="`+ch+`"}`]; v != want[ch] {
					t.Errorf("%s: %v users, want %v", ch, v, want[ch])
				}
			}
		})
	}
}

func TestObserverBounds(t *testing.T) {
	m := metrics.New(metrics.Config{})
	m.Rejected(-1)
	m.Rejected(1000)
	m.Closed(65535)
	hs := httptest.NewServer(m.Handler())
	defer hs.Close()
	got := scrape(t, hs.URL)
	if got[`ripple_connections_rejected_total{reason="other",status="0"}`] != 2 || got[`ripple_connections_closed_total{code="other"}`] != 1 {
		t.Fatalf("out-of-range values not counted: %v", got)
	}
}

func BenchmarkObserver(b *testing.B) {
	m := metrics.New(metrics.Config{})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m.QueueDelay(time.Duration(i%1000) * time.Microsecond)
		m.Closed(1000)
	}
}
