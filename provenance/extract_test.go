package provenance

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// short is an atom reduced to what extraction tests compare.
type short struct {
	Raw, Norm string
	Kind      Kind
}

func shorten(as []Atom) []short {
	out := []short{}
	for _, a := range as {
		out = append(out, short{a.Raw, a.Norm, a.Kind})
	}
	return out
}

func TestExtract(t *testing.T) {
	tests := []struct {
		in   string
		want []short
	}{
		{"My order ID is #W2378156.", []short{{"#W2378156", "w2378156", KindID}}},
		{"order W2378156", []short{{"W2378156", "w2378156", KindID}}},
		{"refund $1,234.50 today", []short{{"$1,234.50", "1234.5", KindMoney}}},
		{"price: 342.81", []short{{"342.81", "342.81", KindNumber}}},
		{"54.00 USD", []short{{"54.00 USD", "54", KindMoney}}},
		{"a 15% discount", []short{{"15%", "15", KindPercent}}},
		{"fly on May 20th", []short{{"May 20th", "05-20", KindDate}}},
		{"on May 20, 2024.", []short{{"May 20, 2024", "2024-05-20", KindDate}}},
		{"on 20 May 2024", []short{{"20 May 2024", "2024-05-20", KindDate}}},
		{"date 2024-05-20", []short{{"2024-05-20", "2024-05-20", KindDate}}},
		{"born 20/05/2024", []short{{"20/05/2024", "2024-05-20", KindDate}}},
		{"due 05/20/2024", []short{{"05/20/2024", "2024-05-20", KindDate}}},
		{"at 2024-05-15 15:00:00 EST", []short{{"2024-05-15", "2024-05-15", KindDate}, {"15:00:00", "15:00", KindTime}}},
		{"leaves 3:05 PM", []short{{"3:05 PM", "15:05", KindTime}}},
		{"after 11 AM", []short{{"11 AM", "11:00", KindTime}}},
		{"reservation ZFA04Y please", []short{{"ZFA04Y", "zfa04y", KindID}}},
		{"reservation HXDUBJ please", []short{{"HXDUBJ", "hxdubj", KindID}}},
		{"id 3FRNFB", []short{{"3FRNFB", "3frnfb", KindID}}},
		{"flight HAT069", []short{{"HAT069", "hat069", KindID}}},
		{"user mia_li_3668 here", []short{{"mia_li_3668", "miali3668", KindID}}},
		{"pay with credit_card_4421486", []short{{"credit_card_4421486", "creditcard4421486", KindID}}},
		{"item 4202497723 ok", []short{{"4202497723", "4202497723", KindID}}},
		{"mail mia.li3818@example.com.", []short{{"mia.li3818@example.com", "mia.li3818@example.com", KindEmail}}},
		{"call (555) 123-4567", []short{{"(555) 123-4567", "5551234567", KindPhone}}},
		{"call +1 555 123 4567", []short{{"+1 555 123 4567", "5551234567", KindPhone}}},
		{"see https://Example.com/a/b/.", []short{{"https://Example.com/a/b/", "https://example.com/a/b", KindURL}}},
		{"edit ./astropy/modeling/separable.py now", []short{{"./astropy/modeling/separable.py", "astropy/modeling/separable.py", KindPath}}},
		{"open /etc/hosts", []short{{"/etc/hosts", "/etc/hosts", KindPath}}},
		{"card ending in 2478", []short{{"2478", "2478", KindSuffix}}},
		{`the "Street Address" column`, []short{{"Street Address", "street address", KindQuoted}}},
		{"and/or", []short{}},
		{"I don't know, it's fine", []short{}},
		{"(282 - 177) + (443 - 180)", []short{{"282", "282", KindNumber}, {"177", "177", KindNumber}, {"443", "443", KindNumber}, {"180", "180", KindNumber}}},
		{"version 1.2.3", []short{{"1.2.3", "1.2.3", KindNumber}}},
		{"5kg bag", []short{{"5kg", "5", KindNumber}}},
		{"a 1,000,000 users", []short{{"1,000,000", "1000000", KindNumber}}},
		{"list: 1, 2, 3", []short{{"1", "1", KindNumber}, {"2", "2", KindNumber}, {"3", "3", KindNumber}}},
		{"x 007", []short{{"007", "007", KindNumber}}}, // leading zeros kept: "$05" is not $5
		{"$0.50 and 0.5", []short{{"$0.50", "0.5", KindMoney}, {"0.5", "0.5", KindNumber}}},
		{"€12 or £3.50", []short{{"€12", "12", KindMoney}, {"£3.50", "3.5", KindMoney}}},
	}
	for _, tt := range tests {
		got := shorten(Extract(tt.in))
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Extract(%q) = %v, want %v (-want +got):\n%s", tt.in, got, tt.want, diff)
		}
	}
}

func TestExtractOffsets(t *testing.T) {
	in := "Order #W2378156 costs $54.04 on May 20."
	for _, a := range Extract(in) {
		if got := in[a.Start:a.End]; got != a.Raw {
			t.Errorf("Extract(%q): atom %q has offsets [%d,%d) = %q", in, a.Raw, a.Start, a.End, got)
		}
	}
}

func TestExtractAtRelativeDates(t *testing.T) {
	clock := time.Date(2024, 5, 15, 15, 0, 0, 0, time.UTC)
	got := shorten(ExtractAt("fly tomorrow, not today", clock))
	want := []short{{"tomorrow", "2024-05-16", KindDate}, {"today", "2024-05-15", KindDate}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ExtractAt(tomorrow) (-want +got):\n%s", diff)
	}
	if got := Extract("fly tomorrow"); len(got) != 0 {
		t.Errorf("Extract without a clock = %v, want no atoms", got)
	}
}

func TestExtractAmbiguousDate(t *testing.T) {
	got := Extract("on 03/04/2024")
	if len(got) != 1 || got[0].Norm != "2024-03-04" || got[0].Alt != "2024-04-03" {
		t.Errorf("Extract(03/04/2024) = %+v, want Norm 2024-03-04 and Alt 2024-04-03", got)
	}
}

func TestExtractInCode(t *testing.T) {
	got := Extract("Run `sed -n 120,140p f.py` then\n```\nx = 4242\n```\nfound 4343")
	var flags []bool
	for _, a := range got {
		if a.Norm == "4242" || a.Norm == "4343" || a.Norm == "120140" {
			flags = append(flags, a.InCode)
		}
	}
	if diff := cmp.Diff([]bool{true, true, false}, flags); diff != "" {
		t.Errorf("InCode flags for 120,140 (read as a number), 4242, 4343 (-want +got):\n%s", diff)
	}
}

func TestExtractArgs(t *testing.T) {
	type pathed struct {
		Path, Norm string
		Kind       Kind
		Prose      bool
	}
	tests := []struct {
		in   string
		want []pathed
	}{
		{`{"order_id":"#W2378156","item_ids":["1151293680","4983901480"],"payment_method_id":"credit_card_9513926"}`,
			[]pathed{{"item_ids[0]", "1151293680", KindID, false}, {"item_ids[1]", "4983901480", KindID, false},
				{"order_id", "w2378156", KindID, false}, {"payment_method_id", "creditcard9513926", KindID, false}}},
		{`{"payment_methods":[{"payment_id":"certificate_7504069","amount":100}],"total_baggages":2}`,
			[]pathed{{"payment_methods[0].amount", "100", KindMoney, false},
				{"payment_methods[0].payment_id", "certificate7504069", KindID, false},
				{"total_baggages", "2", KindNumber, false}}},
		{`{"flights":[{"flight_number":"HAT069","date":"2024-05-20"}],"origin":"JFK"}`,
			[]pathed{{"flights[0].date", "2024-05-20", KindDate, false}, {"flights[0].flight_number", "hat069", KindID, false}}},
		{`{"summary":"User wants a refund of $54.04 for #W2378156"}`,
			[]pathed{{"summary", "54.04", KindMoney, true}, {"summary", "w2378156", KindID, true}}},
		{`{"refund_amount": 54.040, "phone":"555-123-4567", "email":"A@B.com"}`,
			[]pathed{{"email", "a@b.com", KindEmail, false}, {"phone", "5551234567", KindPhone, false},
				{"refund_amount", "54.04", KindMoney, false}}},
		{`not json 12345678`, []pathed{{"", "12345678", KindID, true}}},
		{`{"date":"2024-50-22","month":"2025-03","code":"AB-12-34"}`,
			[]pathed{{"code", "ab1234", KindID, false}, {"date", "20245022", KindID, false}}},
		{``, []pathed{}},
	}
	for _, tt := range tests {
		got := []pathed{}
		for _, a := range ExtractArgs(json.RawMessage(tt.in)) {
			got = append(got, pathed{a.Path, a.Norm, a.Kind, a.Prose})
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ExtractArgs(%s) = %v, want %v (-want +got):\n%s", tt.in, got, tt.want, diff)
		}
	}
}

func TestWeak(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"2 passengers", true}, {"in 2024", true}, {"31 days", true}, {"$2", false}, {"42 items", false},
		{"#W2378156", false}, {"3.5 stars", false}, {"100%", true}, {"15%", true}, {"45%", false},
	}
	for _, tt := range tests {
		as := Extract(tt.in)
		if len(as) != 1 {
			t.Errorf("Extract(%q) = %v, want one atom", tt.in, as)
			continue
		}
		if got := as[0].Weak(); got != tt.want {
			t.Errorf("Extract(%q)[0].Weak() = %v, want %v", tt.in, got, tt.want)
		}
	}
}
