// Package har reads and writes HAR 1.2 files (http://www.softwareishard.com/blog/har-12-spec/)
// of regtrace flows.
//
// The writer redacts secrets by default (decode/redact), keeps the file valid
// JSON after every entry, and adds regtrace's facts under "_regtrace"
// extension fields (flow ID, truncation, transport error, decoded kind,
// findings). The reader accepts HAR files from regtrace, Chrome, Firefox,
// mitmproxy and HTTP Toolkit, and reports a malformed file with the entry
// index and JSON path.
//
// Header order: regtrace records headers from Go maps, so the order in a HAR
// it writes is sorted by name, not the wire order.
//
// har imports decode/flow and decode/redact only.
package har

import "encoding/json"

// File is a HAR document.
type File struct {
	Log Log `json:"log"`
}

// Log is the HAR log object.
type Log struct {
	Version  string   `json:"version"`
	Creator  Creator  `json:"creator"`
	Browser  *Creator `json:"browser,omitempty"`
	Pages    []Page   `json:"pages"`
	Entries  []Entry  `json:"entries"`
	Comment  string   `json:"comment,omitempty"`
	Regtrace *LogExt  `json:"_regtrace,omitempty"`
}

type Creator struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Comment string `json:"comment,omitempty"`
}

type Page struct {
	StartedDateTime string          `json:"startedDateTime"`
	ID              string          `json:"id"`
	Title           string          `json:"title"`
	PageTimings     json.RawMessage `json:"pageTimings,omitempty"`
}

// Entry is one exchange.
type Entry struct {
	Pageref         string    `json:"pageref,omitempty"`
	StartedDateTime string    `json:"startedDateTime"`
	Time            float64   `json:"time"`
	Request         Request   `json:"request"`
	Response        Response  `json:"response"`
	Cache           struct{}  `json:"cache"`
	Timings         Timings   `json:"timings"`
	ServerIPAddress string    `json:"serverIPAddress,omitempty"`
	Connection      string    `json:"connection,omitempty"`
	Comment         string    `json:"comment,omitempty"`
	Error           string    `json:"_error,omitempty"`
	Regtrace        *EntryExt `json:"_regtrace,omitempty"`
}

type Request struct {
	Method      string      `json:"method"`
	URL         string      `json:"url"`
	HTTPVersion string      `json:"httpVersion"`
	Cookies     []Cookie    `json:"cookies"`
	Headers     []NameValue `json:"headers"`
	QueryString []NameValue `json:"queryString"`
	PostData    *PostData   `json:"postData,omitempty"`
	HeadersSize int64       `json:"headersSize"`
	BodySize    int64       `json:"bodySize"`
	Comment     string      `json:"comment,omitempty"`
}

type Response struct {
	Status      int         `json:"status"`
	StatusText  string      `json:"statusText"`
	HTTPVersion string      `json:"httpVersion"`
	Cookies     []Cookie    `json:"cookies"`
	Headers     []NameValue `json:"headers"`
	Content     Content     `json:"content"`
	RedirectURL string      `json:"redirectURL"`
	HeadersSize int64       `json:"headersSize"`
	BodySize    int64       `json:"bodySize"`
	Comment     string      `json:"comment,omitempty"`
	// Error is Chrome's (and mitmproxy savehar's) transport failure, e.g.
	// "net::ERR_CERT_AUTHORITY_INVALID", beside status 0.
	Error string `json:"_error,omitempty"`
}

type NameValue struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	Comment string `json:"comment,omitempty"`
}

type Cookie struct {
	Name     string `json:"name"`
	Value    string `json:"value"`
	Path     string `json:"path,omitempty"`
	Domain   string `json:"domain,omitempty"`
	Expires  string `json:"expires,omitempty"`
	HTTPOnly bool   `json:"httpOnly,omitempty"`
	Secure   bool   `json:"secure,omitempty"`
}

type PostData struct {
	MimeType string      `json:"mimeType"`
	Params   []NameValue `json:"params,omitempty"`
	Text     string      `json:"text"`
	Comment  string      `json:"comment,omitempty"`
}

type Content struct {
	Size        int64  `json:"size"`
	Compression int64  `json:"compression,omitempty"`
	MimeType    string `json:"mimeType"`
	Text        string `json:"text,omitempty"`
	Encoding    string `json:"encoding,omitempty"`
	Comment     string `json:"comment,omitempty"`
}

// Timings in milliseconds; -1 where a phase does not apply. Per HAR 1.2,
// ssl is included in connect.
type Timings struct {
	Blocked float64 `json:"blocked"`
	DNS     float64 `json:"dns"`
	Connect float64 `json:"connect"`
	Send    float64 `json:"send"`
	Wait    float64 `json:"wait"`
	Receive float64 `json:"receive"`
	SSL     float64 `json:"ssl"`
}

// EntryExt is regtrace's per-entry extension ("_regtrace").
type EntryExt struct {
	ID       uint64   `json:"id"`
	Kind     string   `json:"kind,omitempty"`
	Findings []string `json:"findings,omitempty"`
	// ErrorKind is the flow.ErrKind of a transport failure.
	ErrorKind string `json:"errorKind,omitempty"`
	// Synthetic: the response was made by regtrace (a 502 after a failure).
	Synthetic    bool     `json:"synthetic,omitempty"`
	RequestBody  *BodyExt `json:"requestBody,omitempty"`
	ResponseBody *BodyExt `json:"responseBody,omitempty"`
	ClientAddr   string   `json:"clientAddr,omitempty"`
	Upstream     *TLSExt  `json:"upstreamTLS,omitempty"`
	Host         string   `json:"host,omitempty"`
	// ProxyUser is the user the client authenticated to the proxy as.
	ProxyUser string `json:"proxyUser,omitempty"`
}

// BodyExt says what of a body was recorded.
type BodyExt struct {
	Size      int64  `json:"size"`
	Captured  int    `json:"captured"`
	Truncated bool   `json:"truncated,omitempty"`
	Complete  bool   `json:"complete"`
	SHA256    string `json:"sha256,omitempty"`
	// Text/Base64 hold a captured request body that postData cannot
	// (binary); responses use content.
	Base64 string `json:"base64,omitempty"`
}

type TLSExt struct {
	Version     string `json:"version,omitempty"`
	CipherSuite string `json:"cipherSuite,omitempty"`
	ALPN        string `json:"alpn,omitempty"`
	ServerName  string `json:"serverName,omitempty"`
	Insecure    bool   `json:"insecure,omitempty"`
	Issuer      string `json:"issuer,omitempty"`
}

// LogExt is regtrace's log-level extension.
type LogExt struct {
	Version  int  `json:"version"`
	Redacted bool `json:"redacted"`
	// TLSErrors are clients that failed the handshake with the proxy: they
	// have no HTTP entry.
	TLSErrors []TLSError `json:"tlsErrors,omitempty"`
	// TLSErrorsOmitted counts handshake failures past the first 1000.
	TLSErrorsOmitted int `json:"tlsErrorsOmitted,omitempty"`
	// Findings are explain's findings at write time, as plain annotations;
	// `regtrace explain` always recomputes them.
	Findings []string `json:"findings,omitempty"`
	// Unwritten counts exchanges the writer could not write (a full
	// disk): the file lacks them.
	Unwritten int `json:"unwritten,omitempty"`
}

type TLSError struct {
	Time       string `json:"time"`
	ClientAddr string `json:"clientAddr,omitempty"`
	ProxyUser  string `json:"proxyUser,omitempty"`
	Target     string `json:"target"`
	ServerName string `json:"serverName,omitempty"`
	Message    string `json:"message"`
	Reason     string `json:"reason,omitempty"`
}
