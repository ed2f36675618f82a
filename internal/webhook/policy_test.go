package webhook

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestIsPrivate(t *testing.T) {
	private := []string{
		"127.0.0.1", "127.255.255.254", "::1", // loopback
		"10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1", // RFC 1918
		"fc00::1", "fd12:3456::1", // RFC 4193
		"169.254.169.254", "169.254.0.1", "fe80::1", "fe80::1%eth0", // link-local, cloud metadata
		"0.0.0.0", "::", "0.1.2.3", // unspecified, "this network"
		"100.64.0.1", "100.127.255.255", // CGNAT
		"224.0.0.1", "239.255.255.250", "ff02::1", // multicast
		"255.255.255.255", "240.0.0.1", // reserved, broadcast
		"::ffff:127.0.0.1", "::ffff:10.1.2.3", "::ffff:169.254.169.254", // IPv4-mapped
		"64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", // NAT64 of loopback and metadata
		"fec0::1", // site-local
	}
	public := []string{
		"93.184.216.34", "8.8.8.8", "1.1.1.1",
		"172.32.0.1", "172.15.255.255", "100.128.0.1", "100.63.255.255", "11.0.0.1",
		"2606:4700:4700::1111", "2001:4860:4860::8888",
		"::ffff:93.184.216.34", "64:ff9b::808:808",
	}
	for _, s := range private {
		if !isPrivate(netip.MustParseAddr(s)) {
			t.Errorf("isPrivate(%s) = false, want true", s)
		}
	}
	for _, s := range public {
		if isPrivate(netip.MustParseAddr(s)) {
			t.Errorf("isPrivate(%s) = true, want false", s)
		}
	}
}

func TestCheckURLRefuses(t *testing.T) {
	s := NewSender(Policy{}, 0)
	cases := []struct {
		url, want string
		private   bool // refused by the address policy (errors.Is ErrPrivateAddress)
	}{
		{url: "http://127.0.0.1:8080/hook", want: "127.0.0.1 is a private address; mlopsd refuses it unless started with --allow-private-webhooks", private: true},
		{url: "http://[::1]/hook", want: "::1 is a private address", private: true},
		{url: "https://10.1.2.3/hook", want: "10.1.2.3 is a private address", private: true},
		{url: "https://192.168.0.10/hook", want: "192.168.0.10 is a private address", private: true},
		{url: "http://169.254.169.254/latest/meta-data/", want: "169.254.169.254 is a private address", private: true},
		{url: "http://[::ffff:127.0.0.1]/hook", want: "::ffff:127.0.0.1 is a private address", private: true},
		{url: "http://100.64.0.1/hook", want: "100.64.0.1 is a private address", private: true},
		{url: "http://0.0.0.0:9000/", want: "0.0.0.0 is a private address", private: true},
		{url: "http://[fe80::1%25eth0]/", want: "is a private address", private: true},
		{url: "ftp://hooks.example.com/x", want: `scheme "ftp" is not allowed; use http or https`},
		{url: "file:///etc/passwd", want: `scheme "file" is not allowed`},
		{url: "gopher://hooks.example.com/", want: `scheme "gopher" is not allowed`},
		{url: "hooks.example.com/x", want: "no scheme"},
		{url: "https://alice:hunter2@hooks.example.com/x", want: "must not carry credentials"},
		{url: "https://token@hooks.example.com/x", want: "must not carry credentials"},
		{url: "https:///path-only", want: "no host"},
		{url: "https:opaque", want: "no host"},
		{url: "https://hooks.example.com:port/x", want: "not a valid URL"},
		{url: "", want: "no scheme"},
	}
	for _, tc := range cases {
		t.Run(tc.url, func(t *testing.T) {
			err := s.CheckURL(tc.url)
			if err == nil {
				t.Fatal("CheckURL accepted it")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q, want it to contain %q", err, tc.want)
			}
			if got := errors.Is(err, ErrPrivateAddress); got != tc.private {
				t.Errorf("errors.Is(err, ErrPrivateAddress) = %v, want %v", got, tc.private)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("err %q echoes the password", err)
			}
		})
	}
}

func TestCheckURLAccepts(t *testing.T) {
	s := NewSender(Policy{}, 0)
	for _, u := range []string{
		"https://93.184.216.34/hook",
		"http://[2606:4700:4700::1111]:8443/hook",
		"https://hooks.example.com/services/T000/B000?x=1",
		"HTTPS://hooks.example.com",
		// A hostname passes here even if it resolves to a private address: the dialer checks it.
		"http://localhost:8080/hook",
	} {
		if err := s.CheckURL(u); err != nil {
			t.Errorf("CheckURL(%s) = %v", u, err)
		}
	}
}

func TestCheckURLAllowPrivate(t *testing.T) {
	s := NewSender(Policy{AllowPrivate: true}, 0)
	for _, u := range []string{"http://127.0.0.1:8080/hook", "http://[::1]/", "http://10.0.0.1/", "http://169.254.169.254/"} {
		if err := s.CheckURL(u); err != nil {
			t.Errorf("CheckURL(%s) = %v", u, err)
		}
	}
	// The rest of the validation still applies.
	for _, u := range []string{"ftp://127.0.0.1/", "http://user:pw@127.0.0.1/", "http:///x"} {
		if err := s.CheckURL(u); err == nil {
			t.Errorf("CheckURL(%s) accepted it", u)
		}
	}
}
