// The conformance suite against the overlay snapshotter (unpacked trees stacked with overlayfs).
import { OverlaySnapshotter } from '../../src/snapshot/overlay-snapshotter.js';
import { snapshotterConformance } from './conformance.js';

snapshotterConformance('overlay', (dir) => OverlaySnapshotter.open(dir));
