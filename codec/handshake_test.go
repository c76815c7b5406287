package codec_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/ripple-rt/ripple/codec"
)

const goodHead = "GET /ws/room/a%20b?x=1 HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: http://o\r\nCookie: sid=42\r\n\r\n"

func TestHeadEnd(t *testing.T) {
	for i := range len(goodHead) - 1 {
		if n := codec.HeadEnd([]byte(goodHead[:i])); n != 0 {
			t.Fatalf("prefix %d: HeadEnd = %d", i, n)
		}
	}
	if n := codec.HeadEnd([]byte(goodHead + "extra")); n != len(goodHead) {
		t.Fatalf("HeadEnd = %d, want %d", n, len(goodHead))
	}
	if !codec.IsUpgrade([]byte(goodHead)) || codec.IsUpgrade([]byte("GET / HTTP/1.1\r\nHost: h\r\n\r\n")) {
		t.Fatal("IsUpgrade")
	}
}

func TestUpgrade(t *testing.T) {
	var out bytes.Buffer
	req, _, err := codec.Upgrade([]byte(goodHead), &out, codec.UpgradeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(&out), nil)
	if err != nil || resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("response %v %v", resp, err)
	}
	if req.Path != "/ws/room/a b" || req.Query().Get("x") != "1" || req.Host != "h" || req.Header.Get("Origin") != "http://o" {
		t.Fatalf("request %+v", req)
	}
	if c, err := req.Cookie("sid"); err != nil || c.Value != "42" {
		t.Fatalf("cookie %v %v", c, err)
	}
	if req.Header.Get("Upgrade") != "" || req.Header.Get("Sec-Websocket-Key") != "" {
		t.Fatalf("handshake headers kept: %v", req.Header)
	}
}

// TestIsUpgrade: the Upgrade header names websocket in any case, among
// other protocols too.
func TestIsUpgrade(t *testing.T) {
	for _, tc := range []struct {
		upgrade string
		want    bool
	}{
		{"websocket", true},
		{"WebSocket", true},
		{"  WEBSOCKET  ", true},
		{"h2c, websocket", true},
		{"websocket/13", true},
		{"websoc\u212aet", true}, // KELVIN SIGN lowers to k
		{"websock", false},
		{"web socket", false},
		{"h2c", false},
		{"", false},
		{"\u00e9websocke", false},
	} {
		head := "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: " + tc.upgrade + "\r\n\r\n"
		if got := codec.IsUpgrade([]byte(head)); got != tc.want {
			t.Errorf("IsUpgrade(Upgrade: %q) = %v, want %v", tc.upgrade, got, tc.want)
		}
	}
}

// TestUpgradeIntoRequest: with UpgradeConfig.Request, the caller's
// Request is the one filled in, checked and returned.
func TestUpgradeIntoRequest(t *testing.T) {
	var mine codec.Request
	var checked *codec.Request
	req, _, err := codec.Upgrade([]byte(goodHead), &bytes.Buffer{}, codec.UpgradeConfig{
		Request: &mine,
		Check: func(r *codec.Request) (http.Header, error) {
			checked = r
			return nil, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if req != &mine || checked != &mine {
		t.Fatalf("Upgrade used %p (checked %p), want the caller's %p", req, checked, &mine)
	}
	if mine.Path != "/ws/room/a b" || mine.RawQuery != "x=1" || mine.Host != "h" || mine.Header.Get("Cookie") != "sid=42" {
		t.Fatalf("request %+v", mine)
	}
}

var deflateHead = strings.Replace(goodHead, "\r\n\r\n", "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n", 1)

// sameAnswer upgrades head with up and with a fresh codec.Upgrade and
// fails unless both answer alike.
func sameAnswer(t *testing.T, up *codec.Upgrader, head []byte, cfg codec.UpgradeConfig) {
	t.Helper()
	var want, got bytes.Buffer
	wreq, wacc, werr := codec.Upgrade(head, &want, cfg)
	greq, gacc, gerr := up.Upgrade(head, &got, cfg)
	if !bytes.Equal(got.Bytes(), want.Bytes()) || !reflect.DeepEqual(greq, wreq) || !reflect.DeepEqual(gacc, wacc) ||
		fmt.Sprint(gerr) != fmt.Sprint(werr) {
		t.Fatalf("reused Upgrader answered\n%q %+v %+v %v\nwant\n%q %+v %+v %v",
			got.Bytes(), greq, gacc, gerr, want.Bytes(), wreq, wacc, werr)
	}
}

// TestUpgraderReuse: one Upgrader answers a run of requests, accepted,
// refused and compressed, exactly as Upgrade answers each alone.
func TestUpgraderReuse(t *testing.T) {
	refuse := func(*codec.Request) (http.Header, error) { return nil, &codec.Reject{Status: 401, Reason: "no"} }
	extra := func(*codec.Request) (http.Header, error) { return http.Header{"X-Node": {"n1"}}, nil }
	var up codec.Upgrader
	for i, tc := range []struct {
		head string
		cfg  codec.UpgradeConfig
	}{
		{goodHead, codec.UpgradeConfig{}},
		{deflateHead, codec.UpgradeConfig{Deflate: true}},
		{strings.Replace(deflateHead, "deflate\r\n", "deflate; server_max_window_bits=9\r\n", 1), codec.UpgradeConfig{Deflate: true}},
		{deflateHead, codec.UpgradeConfig{Deflate: true}},
		{goodHead, codec.UpgradeConfig{Deflate: true}},
		{deflateHead, codec.UpgradeConfig{}},
		{goodHead, codec.UpgradeConfig{Check: refuse}},
		{goodHead, codec.UpgradeConfig{Check: extra}},
		{goodHead, codec.UpgradeConfig{}},
		{strings.Replace(goodHead, "GET", "POST", 1), codec.UpgradeConfig{}},
		{strings.Replace(goodHead, "Host: h\r\n", "", 1), codec.UpgradeConfig{}},
		{strings.Replace(goodHead, "?x=1", "", 1), codec.UpgradeConfig{Deflate: true}},
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) { sameAnswer(t, &up, []byte(tc.head), tc.cfg) })
	}
}

// BenchmarkUpgrade answers one upgrade request: a fresh Upgrade allocates
// its callbacks every time, a reused Upgrader does not.
func BenchmarkUpgrade(b *testing.B) {
	head := []byte(strings.Replace(goodHead, "Origin: http://o\r\nCookie: sid=42\r\n", "", 1))
	var out bytes.Buffer
	b.Run("upgrader=fresh", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			out.Reset()
			if _, _, err := codec.Upgrade(head, &out, codec.UpgradeConfig{Deflate: true}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("upgrader=reused", func(b *testing.B) {
		var up codec.Upgrader
		var req codec.Request
		b.ReportAllocs()
		for range b.N {
			out.Reset()
			if _, _, err := up.Upgrade(head, &out, codec.UpgradeConfig{Deflate: true, Request: &req}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestUpgradeRejections(t *testing.T) {
	replace := func(old, new string) string { return strings.Replace(goodHead, old, new, 1) }
	tests := []struct {
		name   string
		head   string
		check  func(*codec.Request) (http.Header, error)
		status int
		header string
	}{
		{"no key", replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", ""), nil, 400, ""},
		{"bad key", replace("dGhlIHNhbXBsZSBub25jZQ==", "short"), nil, 400, ""},
		{"no version", replace("Sec-WebSocket-Version: 13\r\n", ""), nil, 400, ""},
		{"bad version", replace("Version: 13", "Version: 8"), nil, 426, "Sec-Websocket-Version"},
		{"no host", replace("Host: h\r\n", ""), nil, 400, ""},
		{"post", replace("GET", "POST"), nil, 400, "Allow"},
		{"key not base64", replace("dGhlIHNhbXBsZSBub25jZQ==", "!!!!!!!!!!!!!!!!!!!!!!!!"), nil, 400, ""},
		{"key of 17 bytes", replace("dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZQ=="[:20]+"ZXg="), nil, 400, ""},
		{"http/1.0", replace("HTTP/1.1", "HTTP/1.0"), nil, 505, ""},
		{"rejected by check", goodHead, func(*codec.Request) (http.Header, error) {
			return nil, &codec.Reject{Status: 401, Reason: "no", Header: http.Header{"Www-Authenticate": {"Bearer"}}}
		}, 401, "Www-Authenticate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			_, _, err := codec.Upgrade([]byte(tt.head), &out, codec.UpgradeConfig{Check: tt.check})
			if err == nil {
				t.Fatal("accepted")
			}
			resp, rerr := http.ReadResponse(bufio.NewReader(&out), nil)
			if rerr != nil || resp.StatusCode != tt.status {
				t.Fatalf("response %v %v, want %d", resp, rerr, tt.status)
			}
			if tt.header != "" && resp.Header.Get(tt.header) == "" {
				t.Fatalf("missing header %s in %v", tt.header, resp.Header)
			}
		})
	}
	var rej *codec.Reject
	_, _, err := codec.Upgrade([]byte(goodHead), &bytes.Buffer{}, codec.UpgradeConfig{Check: func(*codec.Request) (http.Header, error) {
		return nil, &codec.Reject{Status: 403, Reason: "x"}
	}})
	if err == nil || errors.As(err, &rej) && rej.Status != 403 {
		t.Fatalf("err = %v", err)
	}
}
