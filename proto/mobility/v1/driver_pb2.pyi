from proto.mobility.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class VehicleState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VEHICLE_STATE_UNSPECIFIED: _ClassVar[VehicleState]
    VEHICLE_STATE_IDLE: _ClassVar[VehicleState]
    VEHICLE_STATE_TO_PICKUP: _ClassVar[VehicleState]
    VEHICLE_STATE_WITH_RIDERS: _ClassVar[VehicleState]
    VEHICLE_STATE_DWELLING: _ClassVar[VehicleState]
    VEHICLE_STATE_OFF_SHIFT: _ClassVar[VehicleState]

class StopKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STOP_KIND_UNSPECIFIED: _ClassVar[StopKind]
    STOP_KIND_PICKUP: _ClassVar[StopKind]
    STOP_KIND_DROPOFF: _ClassVar[StopKind]

class StopEventKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STOP_EVENT_KIND_UNSPECIFIED: _ClassVar[StopEventKind]
    STOP_EVENT_KIND_ARRIVED: _ClassVar[StopEventKind]
    STOP_EVENT_KIND_BOARDED: _ClassVar[StopEventKind]
    STOP_EVENT_KIND_ALIGHTED: _ClassVar[StopEventKind]
    STOP_EVENT_KIND_NO_SHOW: _ClassVar[StopEventKind]
VEHICLE_STATE_UNSPECIFIED: VehicleState
VEHICLE_STATE_IDLE: VehicleState
VEHICLE_STATE_TO_PICKUP: VehicleState
VEHICLE_STATE_WITH_RIDERS: VehicleState
VEHICLE_STATE_DWELLING: VehicleState
VEHICLE_STATE_OFF_SHIFT: VehicleState
STOP_KIND_UNSPECIFIED: StopKind
STOP_KIND_PICKUP: StopKind
STOP_KIND_DROPOFF: StopKind
STOP_EVENT_KIND_UNSPECIFIED: StopEventKind
STOP_EVENT_KIND_ARRIVED: StopEventKind
STOP_EVENT_KIND_BOARDED: StopEventKind
STOP_EVENT_KIND_ALIGHTED: StopEventKind
STOP_EVENT_KIND_NO_SHOW: StopEventKind

class ShiftRequest(_message.Message):
    __slots__ = ("vehicle_id", "stop", "now_s", "service")
    VEHICLE_ID_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    NOW_S_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    vehicle_id: str
    stop: int
    now_s: int
    service: str
    def __init__(self, vehicle_id: _Optional[str] = ..., stop: _Optional[int] = ..., now_s: _Optional[int] = ..., service: _Optional[str] = ...) -> None: ...

class VehicleStatus(_message.Message):
    __slots__ = ("vehicle_id", "on_shift", "seats", "wheelchair_places", "on_board", "stop", "available_s", "planned_stops", "shift_end_s", "service", "node", "rebalance_node", "state", "position", "next_stop", "next_node", "next_position", "next_arrival_s")
    VEHICLE_ID_FIELD_NUMBER: _ClassVar[int]
    ON_SHIFT_FIELD_NUMBER: _ClassVar[int]
    SEATS_FIELD_NUMBER: _ClassVar[int]
    WHEELCHAIR_PLACES_FIELD_NUMBER: _ClassVar[int]
    ON_BOARD_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_S_FIELD_NUMBER: _ClassVar[int]
    PLANNED_STOPS_FIELD_NUMBER: _ClassVar[int]
    SHIFT_END_S_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    REBALANCE_NODE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    NEXT_STOP_FIELD_NUMBER: _ClassVar[int]
    NEXT_NODE_FIELD_NUMBER: _ClassVar[int]
    NEXT_POSITION_FIELD_NUMBER: _ClassVar[int]
    NEXT_ARRIVAL_S_FIELD_NUMBER: _ClassVar[int]
    vehicle_id: str
    on_shift: bool
    seats: int
    wheelchair_places: int
    on_board: int
    stop: int
    available_s: int
    planned_stops: int
    shift_end_s: int
    service: str
    node: int
    rebalance_node: int
    state: VehicleState
    position: _common_pb2.LatLon
    next_stop: int
    next_node: int
    next_position: _common_pb2.LatLon
    next_arrival_s: int
    def __init__(self, vehicle_id: _Optional[str] = ..., on_shift: bool = ..., seats: _Optional[int] = ..., wheelchair_places: _Optional[int] = ..., on_board: _Optional[int] = ..., stop: _Optional[int] = ..., available_s: _Optional[int] = ..., planned_stops: _Optional[int] = ..., shift_end_s: _Optional[int] = ..., service: _Optional[str] = ..., node: _Optional[int] = ..., rebalance_node: _Optional[int] = ..., state: _Optional[_Union[VehicleState, str]] = ..., position: _Optional[_Union[_common_pb2.LatLon, _Mapping]] = ..., next_stop: _Optional[int] = ..., next_node: _Optional[int] = ..., next_position: _Optional[_Union[_common_pb2.LatLon, _Mapping]] = ..., next_arrival_s: _Optional[int] = ...) -> None: ...

class LocationReport(_message.Message):
    __slots__ = ("vehicle_id", "stop", "time_s", "node", "service")
    VEHICLE_ID_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    TIME_S_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    vehicle_id: str
    stop: int
    time_s: int
    node: int
    service: str
    def __init__(self, vehicle_id: _Optional[str] = ..., stop: _Optional[int] = ..., time_s: _Optional[int] = ..., node: _Optional[int] = ..., service: _Optional[str] = ...) -> None: ...

class LocationAck(_message.Message):
    __slots__ = ("accepted",)
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    accepted: int
    def __init__(self, accepted: _Optional[int] = ...) -> None: ...

class WatchManifestRequest(_message.Message):
    __slots__ = ("vehicle_id", "after_event_id", "service")
    VEHICLE_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    vehicle_id: str
    after_event_id: str
    service: str
    def __init__(self, vehicle_id: _Optional[str] = ..., after_event_id: _Optional[str] = ..., service: _Optional[str] = ...) -> None: ...

class GetManifestRequest(_message.Message):
    __slots__ = ("vehicle_id", "service")
    VEHICLE_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    vehicle_id: str
    service: str
    def __init__(self, vehicle_id: _Optional[str] = ..., service: _Optional[str] = ...) -> None: ...

class ManifestStop(_message.Message):
    __slots__ = ("ride_id", "kind", "stop", "planned_s", "service_s", "passengers", "window_start_s", "node", "window_end_s")
    RIDE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    PLANNED_S_FIELD_NUMBER: _ClassVar[int]
    SERVICE_S_FIELD_NUMBER: _ClassVar[int]
    PASSENGERS_FIELD_NUMBER: _ClassVar[int]
    WINDOW_START_S_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    WINDOW_END_S_FIELD_NUMBER: _ClassVar[int]
    ride_id: str
    kind: StopKind
    stop: int
    planned_s: int
    service_s: int
    passengers: int
    window_start_s: int
    node: int
    window_end_s: int
    def __init__(self, ride_id: _Optional[str] = ..., kind: _Optional[_Union[StopKind, str]] = ..., stop: _Optional[int] = ..., planned_s: _Optional[int] = ..., service_s: _Optional[int] = ..., passengers: _Optional[int] = ..., window_start_s: _Optional[int] = ..., node: _Optional[int] = ..., window_end_s: _Optional[int] = ...) -> None: ...

class Manifest(_message.Message):
    __slots__ = ("event_id", "vehicle_id", "time_s", "stops", "rebalance_node")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    VEHICLE_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_S_FIELD_NUMBER: _ClassVar[int]
    STOPS_FIELD_NUMBER: _ClassVar[int]
    REBALANCE_NODE_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    vehicle_id: str
    time_s: int
    stops: _containers.RepeatedCompositeFieldContainer[ManifestStop]
    rebalance_node: int
    def __init__(self, event_id: _Optional[str] = ..., vehicle_id: _Optional[str] = ..., time_s: _Optional[int] = ..., stops: _Optional[_Iterable[_Union[ManifestStop, _Mapping]]] = ..., rebalance_node: _Optional[int] = ...) -> None: ...

class StopEvent(_message.Message):
    __slots__ = ("vehicle_id", "kind", "ride_id", "stop", "time_s", "service", "node")
    VEHICLE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    RIDE_ID_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    TIME_S_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    vehicle_id: str
    kind: StopEventKind
    ride_id: str
    stop: int
    time_s: int
    service: str
    node: int
    def __init__(self, vehicle_id: _Optional[str] = ..., kind: _Optional[_Union[StopEventKind, str]] = ..., ride_id: _Optional[str] = ..., stop: _Optional[int] = ..., time_s: _Optional[int] = ..., service: _Optional[str] = ..., node: _Optional[int] = ...) -> None: ...

class StopEventAck(_message.Message):
    __slots__ = ("planned_stops",)
    PLANNED_STOPS_FIELD_NUMBER: _ClassVar[int]
    planned_stops: int
    def __init__(self, planned_stops: _Optional[int] = ...) -> None: ...
