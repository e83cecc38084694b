// Package fieldmask applies AIP-134 update masks to protobuf messages.
package fieldmask

import (
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"convene.dev/platform/errdefs"
)

// Paths checks the mask paths against msg's type and returns them, or the
// writable paths when the mask is empty or "*". A path that does not exist,
// or that names (or lies under) a field in readOnly, is an INVALID_ARGUMENT
// error on update_mask.
func Paths(msg proto.Message, paths []string, writable, readOnly []string) ([]string, error) {
	if len(paths) == 0 || (len(paths) == 1 && paths[0] == "*") {
		return writable, nil
	}
	var v errdefs.Violations
	desc := msg.ProtoReflect().Descriptor()
	for _, p := range paths {
		if p == "*" {
			v.Add("update_mask", "\"*\" must be the only path")
			continue
		}
		if !exists(desc, p) {
			v.Add("update_mask", "unknown field %q", p)
			continue
		}
		for _, ro := range readOnly {
			if p == ro || strings.HasPrefix(p, ro+".") {
				v.Add("update_mask", "field %q is not writable", p)
			}
		}
	}
	return paths, v.Err()
}

func exists(desc protoreflect.MessageDescriptor, path string) bool {
	parts := strings.Split(path, ".")
	for i, part := range parts {
		fd := desc.Fields().ByName(protoreflect.Name(part))
		if fd == nil {
			return false
		}
		if i < len(parts)-1 {
			if fd.Message() == nil || fd.IsList() || fd.IsMap() {
				return false
			}
			desc = fd.Message()
		}
	}
	return true
}

// Apply copies the fields named by paths from src to dst; a field unset in
// src is cleared in dst. Paths must have been checked with Paths. src is
// not modified, and dst shares no memory with it afterwards.
func Apply(dst, src proto.Message, paths []string) {
	src = proto.Clone(src) // values are moved into dst below
	for _, p := range paths {
		d, s := dst.ProtoReflect(), src.ProtoReflect()
		parts := strings.Split(p, ".")
		for _, part := range parts[:len(parts)-1] {
			fd := d.Descriptor().Fields().ByName(protoreflect.Name(part))
			d = d.Mutable(fd).Message()
			s = s.Get(fd).Message()
		}
		fd := d.Descriptor().Fields().ByName(protoreflect.Name(parts[len(parts)-1]))
		if s.Has(fd) {
			d.Set(fd, s.Get(fd))
		} else {
			d.Clear(fd)
		}
	}
}
