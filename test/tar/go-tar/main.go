// go-tar: Go's archive/tar (the library the reference tool builds on) as a test oracle.
//   go-tar dump < archive.tar   one JSON object per entry header, as Go reads it
//   go-tar write > archive.tar  a fixed archive written by Go's tar.Writer (PAX and GNU features)
package main

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

type entry struct {
	Name     string            `json:"name"`
	Type     string            `json:"type"`
	Mode     int64             `json:"mode"`
	Uid      int               `json:"uid"`
	Gid      int               `json:"gid"`
	Size     int64             `json:"size"`
	Sec      int64             `json:"sec"`
	Nsec     int64             `json:"nsec"`
	Linkname string            `json:"linkname"`
	Uname    string            `json:"uname"`
	Gname    string            `json:"gname"`
	Devmajor int64             `json:"devmajor"`
	Devminor int64             `json:"devminor"`
	Xattrs   map[string]string `json:"xattrs"`
	Sha256   string            `json:"sha256"`
}

func dump() error {
	tr := tar.NewReader(os.Stdin)
	enc := json.NewEncoder(os.Stdout)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		sum := sha256.New()
		if _, err := io.Copy(sum, tr); err != nil {
			return err
		}
		x := map[string]string{}
		for k, v := range h.PAXRecords {
			if strings.HasPrefix(k, "SCHILY.xattr.") {
				x[strings.TrimPrefix(k, "SCHILY.xattr.")] = base64.StdEncoding.EncodeToString([]byte(v))
			}
		}
		e := entry{h.Name, string([]byte{h.Typeflag}), h.Mode, h.Uid, h.Gid, h.Size, h.ModTime.Unix(), int64(h.ModTime.Nanosecond()),
			h.Linkname, h.Uname, h.Gname, h.Devmajor, h.Devminor, x, hex.EncodeToString(sum.Sum(nil))}
		if err := enc.Encode(e); err != nil {
			return err
		}
	}
}

func write() error {
	tw := tar.NewWriter(os.Stdout)
	t := time.Unix(1700000000, 0)
	files := []struct {
		h    tar.Header
		data string
	}{
		{tar.Header{Name: "dir/", Typeflag: tar.TypeDir, Mode: 0755, ModTime: t, Format: tar.FormatUSTAR}, ""},
		{tar.Header{Name: "dir/file", Typeflag: tar.TypeReg, Mode: 0644, Uid: 1000, Gid: 1000, Uname: "u", Gname: "g", ModTime: t, Size: 5}, "hello"},
		{tar.Header{Name: "dir/" + strings.Repeat("l", 300), Typeflag: tar.TypeReg, Mode: 0600, ModTime: t, Size: 3}, "abc"},
		{tar.Header{Name: "dir/pax-ns", Typeflag: tar.TypeReg, Mode: 0644, ModTime: time.Unix(1700000000, 123456789), Format: tar.FormatPAX, Size: 1}, "n"},
		{tar.Header{Name: "dir/bigid", Typeflag: tar.TypeReg, Mode: 0644, Uid: 3000000, Gid: 4000000, ModTime: t, Format: tar.FormatPAX}, ""},
		{tar.Header{Name: "dir/gnu-bigid", Typeflag: tar.TypeReg, Mode: 0644, Uid: 3000000, Gid: 4000000, ModTime: t, Format: tar.FormatGNU}, ""},
		{tar.Header{Name: "dir/gnu-" + strings.Repeat("g", 200), Typeflag: tar.TypeSymlink, Linkname: strings.Repeat("t", 150), ModTime: t, Format: tar.FormatGNU}, ""},
		{tar.Header{Name: "dir/xattr", Typeflag: tar.TypeReg, Mode: 0644, ModTime: t, PAXRecords: map[string]string{"SCHILY.xattr.user.k": "v\x00\n=", "SCHILY.xattr.security.capability": "\x01\x00\x00\x02"}}, ""},
		{tar.Header{Name: "dir/hard", Typeflag: tar.TypeLink, Linkname: "dir/file", ModTime: t}, ""},
		{tar.Header{Name: "dir/sym", Typeflag: tar.TypeSymlink, Linkname: "file", Mode: 0777, ModTime: t}, ""},
		{tar.Header{Name: "dir/chr", Typeflag: tar.TypeChar, Mode: 0666, Devmajor: 1, Devminor: 3, ModTime: t}, ""},
		{tar.Header{Name: "dir/fifo", Typeflag: tar.TypeFifo, Mode: 0600, ModTime: t}, ""},
		{tar.Header{Name: "dir/ünïcode", Typeflag: tar.TypeReg, Mode: 0644, ModTime: t, Size: 1}, "u"},
	}
	for _, f := range files {
		h := f.h
		if err := tw.WriteHeader(&h); err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
		if _, err := io.WriteString(tw, f.data); err != nil {
			return err
		}
	}
	return tw.Close()
}

func main() {
	var err error
	switch os.Args[1] {
	case "dump":
		err = dump()
	case "write":
		err = write()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
