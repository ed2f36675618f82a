package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/ui"
)

// mountUI serves the read-only dashboard (internal/ui) at /ui. It signs
// people in with the API's own tokens, checked by the same authenticate, and
// counts sign-in attempts against the caller address's rate-limit bucket, so
// the form is no faster a way to guess tokens than the API.
func (s *Server) mountUI(cfg Config) error {
	h, err := ui.New(ui.Config{
		Store: s.store, Logger: s.log, Now: s.now,
		SessionKey:    cfg.UISessionKey,
		SecureCookies: strings.HasPrefix(s.externalURL, "https://"),
		ExternalURL:   func() string { return s.externalURL },
		Authenticate: func(ctx context.Context, secret string) (*ui.Principal, error) {
			p, err := s.authenticate(ctx, "Bearer "+secret)
			if errors.Is(err, errUnauthenticated) {
				return nil, ui.ErrInvalidToken
			}
			if err != nil {
				return nil, err
			}
			return &ui.Principal{TokenID: p.tokenID, Role: p.role, Project: p.project}, nil
		},
		AllowLogin: func(r *http.Request) (bool, time.Duration) {
			if s.limiter == nil {
				return true, 0
			}
			return s.limiter.allow("ip:" + clientIP(r))
		},
	})
	if err != nil {
		return err
	}
	s.router.Mount(ui.Base, h)
	return nil
}
