import { createRoot } from 'react-dom/client';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { App } from './App.tsx';
import './styles.css';

performance.mark('mltrack:app');
const queryClient = new QueryClient({
  defaultOptions: { queries: { retry: (n, e) => n < 1 && !/not found|permission|auth/i.test(String((e as Error)?.message)), refetchOnWindowFocus: false, staleTime: 10_000 } },
});
createRoot(document.getElementById('root')!).render(
  <QueryClientProvider client={queryClient}>
    <App />
  </QueryClientProvider>,
);
