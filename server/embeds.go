package server

import (
	"context"

	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/streams"
	"github.com/oshichat/oshi/unfurl"
)

// embedsConfig turns Config's link embeds settings into the streams
// service's: off unless cfg.Embeds, fetched with package unfurl.
func embedsConfig(cfg Config) streams.EmbedsConfig {
	if !cfg.Embeds {
		return streams.EmbedsConfig{}
	}
	fc := unfurl.Config{Timeout: cfg.EmbedTimeout, MaxBytes: cfg.EmbedMaxBytes}
	if cfg.EmbedFetcher != nil {
		fc = *cfg.EmbedFetcher
	}
	f := unfurl.New(fc)
	return streams.EmbedsConfig{
		Links: cfg.EmbedLinks,
		Fetch: func(ctx context.Context, link string) (*models.Embed, error) {
			e, err := f.Fetch(ctx, link)
			if err != nil {
				return nil, err
			}
			return &models.Embed{
				URL: link, Type: string(e.Type), Title: e.Title,
				Description: e.Description, SiteName: e.SiteName, Image: e.Image,
			}, nil
		},
	}
}
