// Uploads one file to pgship-receiver with the reference tus client, tus-js-client, and prints
// what happened as one JSON line: the upload URL, bytes, attempts, errors seen on the way.
//
//   node upload.mjs ENDPOINT FILE NAME SHA256 TOKEN CHUNK_SIZE [UPLOAD_URL]
import * as fs from 'node:fs';
import * as tus from 'tus-js-client';

const [endpoint, file, name, sha256, token, chunkSize, uploadUrl] = process.argv.slice(2);
const data = fs.readFileSync(file);
const errors = [];
let progressEvents = 0;

const upload = new tus.Upload(data, {
  endpoint,
  uploadUrl: uploadUrl || null,
  chunkSize: Number(chunkSize),
  retryDelays: [0, 200, 500, 1000, 2000],
  headers: { Authorization: `Bearer ${token}` },
  metadata: { filename: name, sha256 },
  storeFingerprintForResuming: false,
  removeFingerprintOnSuccess: true,
  onShouldRetry: (err) => {
    errors.push(String(err.message).split('\n')[0]);
    return true;
  },
  onProgress: () => { progressEvents++; },
  onError: (err) => {
    console.log(JSON.stringify({ ok: false, error: String(err), errors }));
    process.exit(1);
  },
  onSuccess: () => {
    console.log(JSON.stringify({ ok: true, url: upload.url, size: data.length, progressEvents, errors }));
  },
});
upload.start();
