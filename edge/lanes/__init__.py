"""The lanes' pure core: events in, actions out; identification, the car park's state, fees.

An entry or exit lane (:mod:`edge.lanes.entry`, :mod:`edge.lanes.exit`, over :mod:`edge.lanes.lane`) is a state
machine in one of six phases (:class:`edge.lanes.lane.Phase`). The table says what each event does in each phase
(``any``: both lanes); an event a row does not name leaves the phase as it is. ``tests/edge/lanes/test_state_table.py``
drives every row through the real machines and checks the next phase.

| lane  | phase      | event                        | next phase | actions                                          |
| ----- | ---------- | ---------------------------- | ---------- | ------------------------------------------------ |
| any   | idle       | arming occupied              | collecting | the read window starts; a kept read decides      |
| any   | collecting | arming clear                 | idle       | the vehicle's reads are forgotten                |
| any   | collecting | read of a valid pass         | passing    | Commit(records, open command), OpenBarrier       |
| entry | collecting | read, car park full          | denied     | Decided(deny), Commit(abnormal), Display         |
| entry | collecting | read window expires          | waiting    | Decided(wait), Alert(call_booth), Display        |
| entry | collecting | window expires, dispenser    | dispensing | Decided(dispense), DispenseCard, Display         |
| exit  | collecting | read of a vehicle with a fee | waiting    | Decided(wait), Display(the fee)                  |
| exit  | collecting | read window expires          | waiting    | Decided(wait), Alert(call_booth), Display        |
| entry | dispensing | card dispensed               | passing    | Commit(session, open command), OpenBarrier       |
| entry | dispensing | dispenser failed             | waiting    | Alert(dispenser), Display                        |
| exit  | waiting    | payment of the fee           | passing    | Commit(tx, session, open), Released, OpenBarrier |
| exit  | waiting    | waiver                       | passing    | Commit(manual, tx, ...), Released, OpenBarrier   |
| any   | waiting    | manual open                  | passing    | Commit(manual action, ..., open), OpenBarrier    |
| any   | waiting    | refuse                       | denied     | Commit(manual action) (idle: arming loop clear)  |
| any   | waiting    | arming clear                 | idle       | —                                                |
| any   | denied     | arming clear                 | idle       | —                                                |
| any   | denied     | manual open                  | passing    | Commit(manual action, ..., open), OpenBarrier    |
| any   | passing    | safety occupied              | crossing   | the crossing is counted                          |
| any   | crossing   | safety clear                 | idle       | Passed, CloseBarrier, Commit(close command)      |
| any   | passing    | backed out, settle elapsed   | idle       | Commit(session undone, back_out), CloseBarrier   |
| any   | passing    | barrier open failed          | denied     | Commit(session undone, abnormal), Alert          |
| any   | passing    | manual open                  | passing    | nothing: the barrier is open already             |
| any   | passing    | refuse                       | passing    | nothing                                          |

``crossing`` is the passing phase with the vehicle on the safety loop. Every release at an exit (a pass, nothing due,
a manual open too) gives ``Released`` between its commit and its opening; the runner tells the lane's listeners
(:class:`edge.runner.LaneListener`) of ``Released`` and ``Passed`` by typed callbacks. After ``safety clear`` a
vehicle already waiting on the arming loop starts collecting at once; ``barrier open failed`` (the driver could not
command the barrier, told by the runner) goes to idle when the arming loop is clear.
"""
