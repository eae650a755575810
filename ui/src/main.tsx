// Entry: start the route's requests first (preload.ts, a few kB), then load and run the app. The app chunk
// (React, TanStack, the table) is fetched, parsed and run while the server answers.
import { preloadRoute } from './preload.ts';

performance.mark('mltrack:boot');
preloadRoute();
void import('./start.tsx');
