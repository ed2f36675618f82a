package store

import "context"

// eachPage is the page size Each lists with.
const eachPage = 500

// Each calls fn for every object q selects, page by page, stopping at the
// first error. q's Limit and PageToken are ignored.
func Each(ctx context.Context, st Store, q ListQuery, fn func(*Object) error) error {
	q.Limit, q.PageToken = eachPage, ""
	for {
		objs, next, err := st.List(ctx, q)
		if err != nil {
			return err
		}
		for _, o := range objs {
			if err := fn(o); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		q.PageToken = next
	}
}
