package gateway

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
)

// routeKind says which page a request path names.
type routeKind uint8

const (
	routeNone routeKind = iota
	routeIndex
	routeStats
	routeLiveTS
	routeLivePlaylist
	routeLiveSegment
	routeFile // /vod/ID/NAME
	routeFileBare
)

// route is a parsed request path.
type route struct {
	kind routeKind
	name string // live stream or file name
	id   string // content ID
	seg  uint64 // segment number
}

var errNoRoute = errors.New("no such path")

// parseRoute reads an unescaped URL path. Live and file names must pass
// checkName and IDs checkID; a segment number is decimal without a sign or
// leading zeros, so each resource has exactly one path.
func parseRoute(p string) (route, error) {
	switch {
	case p == "/":
		return route{kind: routeIndex}, nil
	case p == "/stats":
		return route{kind: routeStats}, nil
	case strings.HasPrefix(p, "/live/"):
		return parseLiveRoute(p[len("/live/"):])
	case strings.HasPrefix(p, "/vod/"):
		return parseFileRoute(p[len("/vod/"):])
	}
	return route{}, errNoRoute
}

func parseLiveRoute(rest string) (route, error) {
	if name, tail, ok := strings.Cut(rest, "/"); ok {
		num, ok := strings.CutPrefix(tail, "seg/")
		if !ok {
			return route{}, errNoRoute
		}
		num, ok = strings.CutSuffix(num, ".ts")
		if !ok || num == "" || num[0] < '0' || num[0] > '9' || len(num) > 1 && num[0] == '0' {
			return route{}, errNoRoute
		}
		n, err := strconv.ParseUint(num, 10, 64)
		if err != nil || checkName(name) != nil {
			return route{}, errNoRoute
		}
		return route{kind: routeLiveSegment, name: name, seg: n}, nil
	}
	kind := routeLiveTS
	name, ok := strings.CutSuffix(rest, ".ts")
	if !ok {
		kind = routeLivePlaylist
		if name, ok = strings.CutSuffix(rest, ".m3u8"); !ok {
			return route{}, errNoRoute
		}
	}
	if checkName(name) != nil {
		return route{}, errNoRoute
	}
	return route{kind: kind, name: name}, nil
}

func parseFileRoute(rest string) (route, error) {
	id, name, hasName := strings.Cut(rest, "/")
	if checkID(id) != nil {
		return route{}, errNoRoute
	}
	if !hasName {
		return route{kind: routeFileBare, id: id}, nil
	}
	if checkName(name) != nil {
		return route{}, errNoRoute
	}
	return route{kind: routeFile, id: id, name: name}, nil
}

// path returns the escaped URL path of r, the inverse of parseRoute.
func (r route) path() string {
	switch r.kind {
	case routeIndex:
		return "/"
	case routeStats:
		return "/stats"
	case routeLiveTS:
		return livePath(r.name, ".ts")
	case routeLivePlaylist:
		return livePath(r.name, ".m3u8")
	case routeLiveSegment:
		return "/live/" + url.PathEscape(r.name) + "/seg/" + strconv.FormatUint(r.seg, 10) + ".ts"
	case routeFile:
		return filePath(r.id, r.name)
	case routeFileBare:
		return "/vod/" + r.id
	}
	return ""
}

// livePath is the escaped path of a live stream with suffix ".ts" or ".m3u8".
func livePath(name, suffix string) string { return "/live/" + url.PathEscape(name) + suffix }

// filePath is the escaped path of a file.
func filePath(id, name string) string { return "/vod/" + id + "/" + url.PathEscape(name) }
