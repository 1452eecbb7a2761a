import { deflateRawSync, gzipSync } from "node:zlib";

/**
 * The two archive formats a release ships, written here rather than by `tar`/`zip` so the release builds the
 * same on any machine (Debian's `zip` is not on every CI runner) and the archives are reproducible: fixed owner,
 * fixed mode, the build date as every file's time.
 */

export interface Entry {
  /** Path inside the archive, `/`-separated. */
  name: string;
  data: Uint8Array;
  /** Unix permission bits (0o755 for the binary). */
  mode: number;
}

/** A gzipped ustar archive (what `tar xzf` reads on Linux and macOS). */
export function tarGz(entries: Entry[], mtime: Date): Uint8Array {
  const blocks: Uint8Array[] = [];
  for (const entry of entries) {
    blocks.push(tarHeader(entry, mtime), entry.data);
    const pad = (512 - (entry.data.length % 512)) % 512;
    if (pad) blocks.push(new Uint8Array(pad));
  }
  blocks.push(new Uint8Array(1024)); // two zero blocks end the archive
  return gzipSync(concat(blocks), { level: 6 });
}

function tarHeader(entry: Entry, mtime: Date): Uint8Array {
  if (Buffer.byteLength(entry.name) > 100) throw new Error(`tar entry name too long: ${entry.name}`);
  const header = Buffer.alloc(512);
  const octal = (value: number, width: number) => value.toString(8).padStart(width - 1, "0") + "\0";
  header.write(entry.name, 0, "utf8");
  header.write(octal(entry.mode, 8), 100);
  header.write(octal(0, 8), 108); // uid
  header.write(octal(0, 8), 116); // gid
  header.write(octal(entry.data.length, 12), 124);
  header.write(octal(Math.floor(mtime.getTime() / 1000), 12), 136);
  header.write("        ", 148); // checksum field counts as spaces while summing
  header.write("0", 156); // regular file
  header.write("ustar\0", 257);
  header.write("00", 263);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(sum.toString(8).padStart(6, "0") + "\0 ", 148);
  return header;
}

/** A zip archive with deflated entries (what Windows Explorer and `Expand-Archive` open). */
export function zip(entries: Entry[], mtime: Date): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  const { time, date } = dosDateTime(mtime);
  for (const entry of entries) {
    const name = Buffer.from(entry.name, "utf8");
    const deflated = deflateRawSync(entry.data, { level: 6 });
    const crc = Bun.hash.crc32(entry.data) >>> 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed: 2.0 (deflate)
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(8, 8); // deflate
    local.writeUInt16LE(time, 10);
    local.writeUInt16LE(date, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(deflated.length, 18);
    local.writeUInt32LE(entry.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    parts.push(local, name, deflated);

    const header = Buffer.alloc(46);
    header.writeUInt32LE(0x02014b50, 0);
    header.writeUInt16LE((3 << 8) | 20, 4); // made by: Unix, so the mode below is honoured by unzip
    header.writeUInt16LE(20, 6);
    header.writeUInt16LE(0x0800, 8);
    header.writeUInt16LE(8, 10);
    header.writeUInt16LE(time, 12);
    header.writeUInt16LE(date, 14);
    header.writeUInt32LE(crc, 16);
    header.writeUInt32LE(deflated.length, 20);
    header.writeUInt32LE(entry.data.length, 24);
    header.writeUInt16LE(name.length, 28);
    header.writeUInt32LE(((0o100000 | entry.mode) << 16) >>> 0, 38); // external attributes: regular file + mode
    header.writeUInt32LE(offset, 42);
    central.push(header, name);
    offset += local.length + name.length + deflated.length;
    if (offset > 0xffffffff) throw new Error("zip archive over 4 GiB needs zip64, which this writer does not do");
  }
  const centralBytes = concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralBytes.length, 12);
  end.writeUInt32LE(offset, 16);
  return concat([...parts, centralBytes, end]);
}

/** MS-DOS time and date (local fields, 2-second resolution, years from 1980), taken in UTC for reproducibility. */
function dosDateTime(when: Date): { time: number; date: number } {
  const year = Math.max(1980, when.getUTCFullYear());
  return {
    time: (when.getUTCHours() << 11) | (when.getUTCMinutes() << 5) | Math.floor(when.getUTCSeconds() / 2),
    date: ((year - 1980) << 9) | ((when.getUTCMonth() + 1) << 5) | when.getUTCDate(),
  };
}

function concat(chunks: Uint8Array[]): Uint8Array {
  return Buffer.concat(chunks);
}
