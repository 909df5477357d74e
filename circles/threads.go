package circles

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/store"
)

// Threads are streams of kind models.Thread started under a circle's
// text channel (the parent). They are kept in the rules apart from the
// other streams (rules.threads): they are not counted against
// MaxStreams, take no part in the list's positions, and have no
// overwrites; a member's permissions in a thread are those in its
// parent (governing).

// Errors of threads.
var (
	ErrThreadNotFound = errors.New("thread not found")
	ErrNotThreadable  = errors.New("threads can only be started under a circle's text channel")
	ErrThreadExists   = errors.New("that message already started a thread")
	ErrThreadLocked   = errors.New("this thread is locked: only members with manage_threads may post in it or change it")
	ErrInvalidStarter = errors.New("message must name a message of the parent stream that is not deleted")
	ErrThreadCursor   = errors.New("cursor must be the next value of an earlier thread_list")
)

// MaxThreadPage bounds one thread_list page.
const MaxThreadPage = 100

// governing returns the stream whose overwrites decide permissions in
// streamID: a thread's parent, any other stream of the circle itself;
// nil for an unknown stream, or a thread whose parent is gone.
func (r *rules) governing(streamID string) *models.Stream {
	if st := r.streams[streamID]; st != nil {
		return st
	}
	if th := r.threads[streamID]; th != nil {
		return r.streams[th.ParentID]
	}
	return nil
}

// viewThreads appends to list the circle's active threads userID may
// view, each with their permissions in it and placed (Position) where
// its parent is.
func (r *rules) viewThreads(userID string, now time.Time, list []models.Stream) []models.Stream {
	for _, th := range r.threads {
		if th.Archived {
			continue
		}
		if v, ok := r.threadView(userID, th, now); ok {
			list = append(list, v)
		}
	}
	return list
}

// threadView returns a thread as userID sees it, and whether they may.
func (r *rules) threadView(userID string, th *models.Stream, now time.Time) (models.Stream, bool) {
	p := r.perms(userID, th.ID, now)
	if !p.Has(models.ViewStreams) {
		return models.Stream{}, false
	}
	v := *th
	v.Pins = nil
	v.Permissions = &p
	if parent := r.streams[th.ParentID]; parent != nil {
		v.Position = parent.Position
	}
	return v, true
}

// activeThreads counts the threads of a parent that are not archived.
func (r *rules) activeThreads(parentID string) int {
	n := 0
	for _, th := range r.threads {
		if th.ParentID == parentID && !th.Archived {
			n++
		}
	}
	return n
}

// CreateThread starts a thread named name under the channel parentID;
// with starterID, from that message of the parent (the thread then has
// the message's id). The user needs ViewStreams, SendMessages and
// CreateThreads in the parent. Only a circle's text channel takes
// threads (ErrNotThreadable), a message starts at most one
// (ErrThreadExists), and a parent has at most MaxActiveThreads active
// threads.
func (s *Service) CreateThread(ctx context.Context, actor models.UserRef, parentID, name, starterID string) (*models.Stream, error) {
	name, ok := models.ValidName(name)
	if !ok {
		return nil, ErrInvalidName
	}
	if parentID == "" || len(parentID) > 64 || len(starterID) > 64 {
		return nil, ErrStreamNotFound
	}
	parent, err := s.store.Stream(ctx, parentID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrStreamNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("create thread: %w", err)
	}
	if parent.CircleID == "" {
		// A DM: its participants learn it takes no threads, others
		// nothing.
		if slices.Contains(parent.Members, actor.ID) {
			return nil, ErrNotThreadable
		}
		return nil, ErrStreamNotFound
	}
	unlock := s.lock(parent.CircleID)
	defer unlock()
	r, err := s.rules(ctx, parent.CircleID)
	if err != nil {
		return nil, err
	}
	if r.members[actor.ID] == nil {
		return nil, ErrForbidden
	}
	p := r.perms(actor.ID, parentID, s.now())
	if !p.Has(models.ViewStreams) {
		if r.governing(parentID) == nil {
			return nil, ErrStreamNotFound
		}
		return nil, &MissingError{Missing: models.ViewStreams}
	}
	cur := r.streams[parentID]
	if cur == nil || cur.Kind != models.Channel {
		return nil, ErrNotThreadable // a thread, a voice stream or a separator
	}
	if need := models.SendMessages | models.CreateThreads; !p.Has(need) {
		return nil, &MissingError{Missing: need &^ p}
	}
	if r.activeThreads(parentID) >= s.cfg.MaxActiveThreads {
		return nil, fmt.Errorf("a stream may have at most %d active threads: %w", s.cfg.MaxActiveThreads, ErrLimit)
	}
	th := &models.Stream{ID: newID(), Kind: models.Thread, CircleID: cur.CircleID, Name: name, Position: cur.Position,
		ParentID: parentID, OwnerID: actor.ID, CreatedAt: s.now()}
	if starterID != "" {
		m, err := s.store.Message(ctx, starterID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return nil, ErrInvalidStarter
		case err != nil:
			return nil, fmt.Errorf("create thread: find message: %w", err)
		case m.StreamID != parentID || m.Deleted:
			return nil, ErrInvalidStarter
		case m.Thread != nil || r.threads[m.ID] != nil:
			return nil, ErrThreadExists
		}
		// The thread takes the message's id: the unique _id keeps a
		// message to one thread, on every node at once.
		th.ID, th.StarterID = m.ID, m.ID
	}
	defer s.Forget(cur.CircleID)
	if err := s.store.CreateStream(ctx, th); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			return nil, ErrThreadExists
		}
		return nil, fmt.Errorf("create thread: %w", err)
	}
	return th, nil
}

// threadTarget finds a thread and the rules of its circle, and locks the
// circle; the caller must call unlock.
func (s *Service) threadTarget(ctx context.Context, actorID, threadID string) (r *rules, th *models.Stream, unlock func(), err error) {
	if threadID == "" || len(threadID) > 64 {
		return nil, nil, nil, ErrThreadNotFound
	}
	st, err := s.store.Stream(ctx, threadID)
	if errors.Is(err, store.ErrNotFound) || err == nil && st.Kind != models.Thread {
		return nil, nil, nil, ErrThreadNotFound
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("find thread: %w", err)
	}
	unlock = s.lock(st.CircleID)
	r, err = s.rules(ctx, st.CircleID)
	switch {
	case err != nil:
	case r.members[actorID] == nil:
		err = ErrForbidden
	case r.threads[threadID] == nil:
		err = ErrThreadNotFound
	case !r.perms(actorID, threadID, s.now()).Has(models.ViewStreams):
		err = &MissingError{Missing: models.ViewStreams}
	}
	if err != nil {
		unlock()
		return nil, nil, nil, err
	}
	return r, r.threads[threadID], unlock, nil
}

// ThreadEdit is a thread's settable fields; nil fields stay as they are.
type ThreadEdit struct {
	Name             *string
	Archived, Locked *bool
}

// EditThread renames, archives or unarchives, locks or unlocks a thread.
// Its creator may rename and archive their own thread while it is not
// locked; anything else (others' threads, locking, a locked thread)
// needs ManageThreads. Unarchiving counts against MaxActiveThreads. It
// returns the thread as it is after the change, and the one before
// (the same when nothing changed).
func (s *Service) EditThread(ctx context.Context, actor models.UserRef, threadID string, e ThreadEdit) (after, before *models.Stream, err error) {
	r, cur, unlock, err := s.threadTarget(ctx, actor.ID, threadID)
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	if !r.perms(actor.ID, threadID, s.now()).Has(models.ManageThreads) {
		switch {
		case cur.OwnerID != actor.ID || e.Locked != nil:
			return nil, nil, &MissingError{Missing: models.ManageThreads}
		case cur.Locked:
			return nil, nil, ErrThreadLocked
		}
	}
	th := *cur
	if e.Name != nil {
		name, ok := models.ValidName(*e.Name)
		if !ok {
			return nil, nil, ErrInvalidName
		}
		th.Name = name
	}
	if e.Locked != nil {
		th.Locked = *e.Locked
	}
	if e.Archived != nil && *e.Archived != th.Archived {
		th.Archived = *e.Archived
		th.ArchivedAt = nil
		if th.Archived {
			now := s.now()
			th.ArchivedAt = &now
		} else if r.activeThreads(th.ParentID) >= s.cfg.MaxActiveThreads {
			return nil, nil, fmt.Errorf("a stream may have at most %d active threads: %w", s.cfg.MaxActiveThreads, ErrLimit)
		}
	}
	if th.Name == cur.Name && th.Archived == cur.Archived && th.Locked == cur.Locked {
		return cur, cur, nil // nothing to change
	}
	if err := s.putThread(ctx, &th); err != nil {
		return nil, nil, err
	}
	details := map[string]any{}
	if th.Name != cur.Name {
		details["name"] = th.Name
	}
	if th.Archived != cur.Archived {
		details["archived"] = th.Archived
	}
	if th.Locked != cur.Locked {
		details["locked"] = th.Locked
	}
	s.audit(ctx, &models.AuditEntry{CircleID: th.CircleID, Action: AuditThreadEdit, Actor: actor, TargetID: th.ID, Details: details})
	return &th, cur, nil
}

func (s *Service) putThread(ctx context.Context, th *models.Stream) error {
	defer s.Forget(th.CircleID)
	if err := s.store.UpdateThread(ctx, th); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return ErrThreadNotFound
		}
		return fmt.Errorf("store thread: %w", err)
	}
	return nil
}

// DeleteThread removes a thread with its messages; its creator may, and
// a member with ManageThreads. It returns the thread as it was.
func (s *Service) DeleteThread(ctx context.Context, actor models.UserRef, threadID string) (*models.Stream, error) {
	r, th, unlock, err := s.threadTarget(ctx, actor.ID, threadID)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if th.OwnerID != actor.ID && !r.perms(actor.ID, threadID, s.now()).Has(models.ManageThreads) {
		return nil, &MissingError{Missing: models.ManageThreads}
	}
	defer s.Forget(th.CircleID)
	if err := s.store.DeleteStream(ctx, threadID); err != nil {
		return nil, fmt.Errorf("delete thread: %w", err)
	}
	s.audit(ctx, &models.AuditEntry{CircleID: th.CircleID, Action: AuditThreadDelete, Actor: actor, TargetID: th.ID,
		Details: map[string]any{"name": th.Name, "parent": th.ParentID}})
	return th, nil
}

// Audit actions of threads. Starting one is not recorded: any member
// may, and it shows in the channel.
const (
	AuditThreadEdit   = "thread_edit"
	AuditThreadDelete = "thread_delete"
)

func init() {
	auditActions = append(auditActions, AuditThreadEdit, AuditThreadDelete)
}

// deleteThreadsOf removes the threads of a deleted parent; the caller
// holds the circle's lock and forgets the rules.
func (s *Service) deleteThreadsOf(ctx context.Context, r *rules, parentID string) error {
	for id, th := range r.threads {
		if th.ParentID != parentID {
			continue
		}
		if err := s.store.DeleteStream(ctx, id); err != nil {
			return fmt.Errorf("delete thread: %w", err)
		}
	}
	return nil
}

// ThreadIDs returns the ids of a stream's threads, archived ones too;
// none when the circle cannot be read.
func (s *Service) ThreadIDs(ctx context.Context, circleID, parentID string) []string {
	r, err := s.rules(ctx, circleID)
	if err != nil {
		return nil
	}
	var ids []string
	for id, th := range r.threads {
		if th.ParentID == parentID {
			ids = append(ids, id)
		}
	}
	return ids
}

// ThreadPost prepares a post by userID to threadID of circleID: a locked
// thread refuses members without ManageThreads (ErrThreadLocked), and an
// archived one is unarchived and returned, for the caller to announce;
// otherwise it returns nil. A stream that is not a thread, or a post the
// user may not make, is left to the post's own checks.
func (s *Service) ThreadPost(ctx context.Context, userID, circleID, threadID string) (*models.Stream, error) {
	r, err := s.rules(ctx, circleID)
	if err != nil {
		return nil, nil // the post's own check answers
	}
	th := r.threads[threadID]
	if th == nil || !th.Locked && !th.Archived {
		return nil, nil
	}
	p := r.perms(userID, threadID, s.now())
	if !p.Has(models.ViewStreams | models.SendMessages) {
		return nil, nil
	}
	if th.Locked && !p.Has(models.ManageThreads) {
		return nil, ErrThreadLocked
	}
	if !th.Archived {
		return nil, nil
	}
	unlock := s.lock(circleID)
	defer unlock()
	if r, err = s.rules(ctx, circleID); err != nil {
		return nil, err
	}
	cur := r.threads[threadID]
	if cur == nil || !cur.Archived {
		return nil, nil // deleted, or unarchived meanwhile
	}
	if r.activeThreads(cur.ParentID) >= s.cfg.MaxActiveThreads {
		return nil, fmt.Errorf("a stream may have at most %d active threads: %w", s.cfg.MaxActiveThreads, ErrLimit)
	}
	up := *cur
	up.Archived, up.ArchivedAt = false, nil
	if err := s.putThread(ctx, &up); err != nil {
		return nil, err
	}
	return &up, nil
}

// Threads lists the threads of parentID that userID may view, archived
// or active ones, newest first: active ones by creation, archived ones
// by when they were archived. A page starts after the thread cursor (the
// last id of the previous page) and holds at most limit (1 to
// MaxThreadPage; 0 means MaxThreadPage); next is the cursor of the
// following page, empty at the end. The user needs ViewStreams in the
// parent.
func (s *Service) Threads(ctx context.Context, userID, parentID string, archived bool, cursor string, limit int) (page []models.Stream, next string, err error) {
	if parentID == "" || len(parentID) > 64 {
		return nil, "", ErrStreamNotFound
	}
	parent, err := s.store.Stream(ctx, parentID)
	if errors.Is(err, store.ErrNotFound) || err == nil && parent.CircleID == "" {
		return nil, "", ErrStreamNotFound
	}
	if err != nil {
		return nil, "", fmt.Errorf("list threads: %w", err)
	}
	r, err := s.require(ctx, parent.CircleID, userID, parentID, models.ViewStreams)
	if err != nil {
		return nil, "", err
	}
	if limit <= 0 || limit > MaxThreadPage {
		limit = MaxThreadPage
	}
	var all []*models.Stream
	for _, th := range r.threads {
		if th.ParentID == parentID && th.Archived == archived {
			all = append(all, th)
		}
	}
	at := func(th *models.Stream) time.Time {
		if th.ArchivedAt != nil {
			return *th.ArchivedAt
		}
		return th.CreatedAt
	}
	slices.SortFunc(all, func(a, b *models.Stream) int {
		return cmp.Or(at(b).Compare(at(a)), strings.Compare(b.ID, a.ID))
	})
	// The cursor is the sort key of the last thread sent, so a page goes
	// on after it even when that thread has since been archived, brought
	// back or deleted.
	i := 0
	if cursor != "" {
		ms, id, ok := strings.Cut(cursor, ".")
		n, err := strconv.ParseInt(ms, 10, 64)
		if !ok || err != nil || id == "" || strconv.FormatInt(n, 10) != ms {
			return nil, "", ErrThreadCursor
		}
		after := time.UnixMilli(n)
		i, _ = slices.BinarySearchFunc(all, after, func(th *models.Stream, _ time.Time) int {
			return cmp.Or(after.Compare(at(th)), strings.Compare(id, th.ID), -1)
		})
	}
	now := s.now()
	page = []models.Stream{}
	for ; i < len(all) && len(page) < limit; i++ {
		if v, ok := r.threadView(userID, all[i], now); ok {
			page = append(page, v)
		}
	}
	if i < len(all) && len(page) > 0 {
		last := all[i-1]
		next = fmt.Sprintf("%d.%s", at(last).UnixMilli(), last.ID)
	}
	return page, next, nil
}

// ThreadViewers returns the ids of the circle's members who may view
// threadID, and whether that is every member.
func (s *Service) ThreadViewers(ctx context.Context, circleID, threadID string) (ids []string, all bool, err error) {
	r, err := s.rules(ctx, circleID)
	if err != nil {
		return nil, false, err
	}
	now := s.now()
	for id := range r.members {
		if r.perms(id, threadID, now).Has(models.ViewStreams) {
			ids = append(ids, id)
		}
	}
	return ids, len(ids) == len(r.members), nil
}

// ReadableThreads returns the ids of the circle's archived threads
// userID may read (ReadHistory); circle views list the active ones.
func (s *Service) ReadableThreads(ctx context.Context, circleID, userID string) []string {
	r, err := s.rules(ctx, circleID)
	if err != nil {
		return nil
	}
	now := s.now()
	var ids []string
	for id, th := range r.threads {
		if th.Archived && r.perms(userID, id, now).Has(models.ViewStreams|models.ReadHistory) {
			ids = append(ids, id)
		}
	}
	return ids
}
