// The counter page as the Convex docs write optimistic updates: nothing is guessed before the
// query's first result has arrived.
import { api } from "../convex/_generated/api";

export default async function counterPage(client, ui) {
  client.onUpdate(api.counter.get, {}, (count) => {
    // render(count)
  });
  await ui.event("click +1");
  await client.mutation(api.counter.increment, {}, {
    optimisticUpdate: (localStore) => {
      const count = localStore.getQuery(api.counter.get, {});
      if (count !== undefined) {
        localStore.setQuery(api.counter.get, {}, count + 1);
      }
    },
  });
}
