#pragma once
// A small, safe unpickler for the subset of Python's pickle format that
// torch.save uses for state_dicts (protocols 2 to 5). It needs no LibTorch.
//
// It never executes anything: GLOBAL/STACK_GLOBAL only name a callable, and the
// caller's hooks decide which names are allowed (anything else is an
// imret::Error naming the global), what a persistent id (BINPERSID) stands for
// and what REDUCE/NEWOBJ of an allowed callable produces. Every read is bounds
// checked; a truncated or malformed pickle, an unknown opcode (named, with its
// offset) or a stack underflow throws imret::Error("<display name>: ...").
//
// Values live in an Arena and point at each other with raw pointers, so a
// pickle that builds cycles (a list appended to itself) cannot leak.
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace imret::pickle {

enum class Kind {
  None,
  Bool,
  Int,     // fits int64: `integer`
  BigInt,  // LONG1/LONG4 wider than 8 bytes: little-endian two's complement in `text`
  Float,
  String,  // str (UTF-8 in `text`)
  Bytes,   // bytes (in `text`)
  Tuple,
  List,
  Dict,
  Global,  // a callable or class named by GLOBAL/STACK_GLOBAL: "module.name" in `text`
  Object,  // something the hooks built (a tensor, a storage...): `index` into their table
};

struct Value {
  Kind kind = Kind::None;
  bool boolean = false;
  int64_t integer = 0;
  double real = 0;
  std::string text;
  std::vector<Value*> items;                        // Tuple, List
  std::vector<std::pair<Value*, Value*>> entries;   // Dict, in insertion order
  int64_t index = -1;                               // Object
  int64_t tag = 0;                                  // Object: what kind of object (the hooks' choice)
};

// Owns every value of a pickle (pointers stay valid while the arena lives).
class Arena {
 public:
  Value* make(Kind kind) {
    values_.emplace_back();
    values_.back().kind = kind;
    return &values_.back();
  }

 private:
  std::deque<Value> values_;
};

struct Hooks {
  // May GLOBAL/STACK_GLOBAL name `module`.`name`? When false the unpickler
  // throws "<file>: pickle asks for global 'module.name', which imret does not load".
  std::function<bool(const std::string& module, const std::string& name)> allow_global;
  // BINPERSID: the value that the persistent id `pid` stands for.
  std::function<Value*(Arena& arena, Value* pid)> persistent_load;
  // REDUCE and NEWOBJ: the value of calling the allowed global `callable` with the tuple `args`.
  std::function<Value*(Arena& arena, Value* callable, Value* args)> reduce;
};

// Unpickles one pickle starting at `offset` in `bytes`; on return `offset` is
// just past its STOP opcode. BUILD's state is ignored (it sets attributes such
// as a state_dict's `_metadata`).
Value* unpickle(std::string_view bytes, size_t& offset, Arena& arena, const Hooks& hooks,
                const std::string& display_name);

// "int", "str", "dict"...: for error messages.
const char* kind_name(Kind kind);

}  // namespace imret::pickle
