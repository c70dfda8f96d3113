package monitor

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"strings"
	"time"
)

// A renderer turns an alert change into the body one notifier type sends.
type renderer func(r renderInput) (contentType string, body []byte, err error)

type renderInput struct {
	notifier    *Notifier
	alert       *Alert
	groupBy     []string
	externalURL string
}

// renderers maps a notifier type to its payload.
var renderers = map[string]renderer{
	"webhook":      renderWebhook,
	"alertmanager": renderAlertmanager,
	"slack":        renderSlack,
}

// WebhookPayload is the body of a "webhook" notification, version 1
// (docs/monitors.md). Event is the alert's state after the change.
type WebhookPayload struct {
	Version string `json:"version"`
	Event   string `json:"event"`
	Alert   *Alert `json:"alert"`
	// Links point at the server's API when it has an external URL.
	Links *WebhookLinks `json:"links,omitempty"`
}

// WebhookLinks are API URLs about an alert.
type WebhookLinks struct {
	Alerts   string   `json:"alerts"`
	Examples []string `json:"examples"`
}

func renderWebhook(r renderInput) (string, []byte, error) {
	p := WebhookPayload{Version: "1", Event: r.alert.State, Alert: r.alert}
	if r.externalURL != "" {
		base := strings.TrimRight(r.externalURL, "/")
		p.Links = &WebhookLinks{Alerts: base + "/api/v1/alerts?state=" + r.alert.State, Examples: []string{}}
		for _, id := range r.alert.Examples {
			p.Links.Examples = append(p.Links.Examples, base+"/api/v1/traces/"+id)
		}
	}
	b, err := json.Marshal(p)
	return "application/json", b, err
}

// amMessage is the body Alertmanager POSTs to a webhook receiver (version
// 4 of its webhook format), so receivers written for Alertmanager take
// Probity's alerts unchanged.
type amMessage struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []amAlert         `json:"alerts"`
}

type amAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

var labelUnsafe = regexp.MustCompile(`[^a-zA-Z0-9_]`)

// labelName makes an attribute name a valid Prometheus label name
// (service.name → service_name).
func labelName(s string) string {
	s = labelUnsafe.ReplaceAllString(s, "_")
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		s = "_" + s
	}
	return s
}

func renderAlertmanager(r renderInput) (string, []byte, error) {
	a := r.alert
	labels := map[string]string{"alertname": a.Monitor, "kind": a.Kind, "severity": "warning", "source": "probity"}
	for k, v := range a.Group {
		labels[labelName(k)] = v
	}
	ann := map[string]string{
		"summary":     a.Summary,
		"description": fmt.Sprintf("%s rose from %s to %s; change began around %s", a.Event, a.Before, a.After, a.Change.At.UTC().Format(time.RFC3339)),
		"change_at":   a.Change.At.UTC().Format(time.RFC3339),
		"rate_before": a.Before.String(),
		"rate_after":  a.After.String(),
		"examples":    strings.Join(a.Examples, ","),
		"alert_id":    a.ID,
	}
	if a.Resolution != "" {
		ann["resolution"] = a.Resolution
	}
	al := amAlert{Status: a.State, Labels: labels, Annotations: ann, StartsAt: a.FiredAt, Fingerprint: a.ID}
	if a.ResolvedAt != nil {
		al.EndsAt = *a.ResolvedAt
	}
	base := strings.TrimRight(r.externalURL, "/")
	if base != "" {
		al.GeneratorURL = base + "/api/v1/alerts?state=" + a.State
	}
	groupLabels := map[string]string{"alertname": a.Monitor}
	m := amMessage{
		Version:           "4",
		GroupKey:          fmt.Sprintf("{}:{alertname=%q}", a.Monitor),
		Status:            a.State,
		Receiver:          r.notifier.Name,
		GroupLabels:       groupLabels,
		CommonLabels:      maps.Clone(labels),
		CommonAnnotations: maps.Clone(ann),
		ExternalURL:       base,
		Alerts:            []amAlert{al},
	}
	b, err := json.Marshal(m)
	return "application/json", b, err
}

// slackMessage is a Slack incoming-webhook message: text for
// notifications, blocks for the channel.
type slackMessage struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

type slackBlock struct {
	Type string     `json:"type"`
	Text *slackText `json:"text,omitempty"`
}

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

func renderSlack(r renderInput) (string, []byte, error) {
	a := r.alert
	where := groupString(r.groupBy, a.Group)
	var head, body string
	if a.State == AlertFiring {
		head = fmt.Sprintf(":rotating_light: *%s* is firing for %s", a.Monitor, where)
		body = fmt.Sprintf("%s rose from *%s* to *%s*.\nThe change began around %s (%d traces before the alarm).",
			capitalize(a.Event), a.Before, a.After, a.Change.At.UTC().Format(time.RFC3339), a.Change.TracesAgo)
	} else {
		head = fmt.Sprintf(":white_check_mark: *%s* resolved for %s (%s)", a.Monitor, where, a.Resolution)
		body = fmt.Sprintf("It had fired at %s: %s rose from %s to %s.", a.FiredAt.UTC().Format(time.RFC3339), a.Event, a.Before, a.After)
	}
	if len(a.Examples) > 0 {
		var ex []string
		base := strings.TrimRight(r.externalURL, "/")
		for _, id := range a.Examples {
			if base != "" {
				ex = append(ex, fmt.Sprintf("<%s/api/v1/traces/%s|%s>", base, id, id))
			} else {
				ex = append(ex, "`"+id+"`")
			}
		}
		body += "\nExample traces: " + strings.Join(ex, ", ")
	}
	m := slackMessage{
		Text: a.Summary,
		Blocks: []slackBlock{
			{Type: "section", Text: &slackText{Type: "mrkdwn", Text: head}},
			{Type: "section", Text: &slackText{Type: "mrkdwn", Text: body}},
		},
	}
	b, err := json.Marshal(m)
	return "application/json", b, err
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
